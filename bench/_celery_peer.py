"""The Celery peer of the peers benchmark: the course shape as one chain per module, joined by a chord, on Redis.

A worker runs with ``acks_late`` and a prefetch multiplier of 1 (as a pipeline
that must not lose work on a crash would), each pool process holding one
PostgreSQL connection. Every task writes its step's row under a unique key
through the store, as coursegen's stages do. The benchmark starts workers as

    celery -A _celery_peer worker --pool prefork --concurrency N --prefetch-multiplier 1 -Q QUEUE

with ``BENCH_CELERY_BROKER``, ``BENCH_CELERY_QUEUE`` and ``BENCH_DATABASE_URL`` set.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

from celery import Celery, chain, chord
from celery.signals import worker_process_init, worker_process_shutdown

from coursegen.shared.store import bench as bench_store
from coursegen.shared.store import connect

PEER = "celery"
BROKER = os.environ.get("BENCH_CELERY_BROKER", "redis://127.0.0.1:6379/0")
QUEUE = os.environ.get("BENCH_CELERY_QUEUE", "coursegen-bench")

app = Celery("coursegen_bench_peer", broker=BROKER, backend=BROKER)
app.conf.update(
    task_acks_late=True,
    worker_prefetch_multiplier=1,
    task_default_queue=QUEUE,
    task_serializer="json",
    result_serializer="json",
    accept_content=["json"],
    result_expires=3600,
    broker_connection_retry_on_startup=True,
    worker_hijack_root_logger=False,
)


class _Held:
    """One event loop and one PostgreSQL connection per pool process, opened after the fork."""

    loop: asyncio.AbstractEventLoop | None = None
    pool: Any = None
    conn: Any = None


@worker_process_init.connect
def _open_connection(**_: Any) -> None:
    _Held.loop = asyncio.new_event_loop()
    _Held.pool = _Held.loop.run_until_complete(connect(os.environ["BENCH_DATABASE_URL"], min_size=1, max_size=1))
    _Held.conn = _Held.loop.run_until_complete(_Held.pool.acquire())


@worker_process_shutdown.connect
def _close_connection(**_: Any) -> None:
    if _Held.loop is not None and _Held.pool is not None:
        _Held.loop.run_until_complete(_Held.pool.release(_Held.conn))
        _Held.loop.run_until_complete(_Held.pool.close())


def _store(run_key: str, step: str, module_index: int, output: dict[str, Any]) -> None:
    assert _Held.loop is not None, "the worker process has no connection"
    _Held.loop.run_until_complete(
        bench_store.store_peer_step(
            _Held.conn, peer=PEER, run_key=run_key, step=step, module_index=module_index, output=output
        )
    )


@app.task(ignore_result=True)
def planner(run_key: str, modules: int) -> None:
    _store(run_key, "planner", -1, {"modules": modules})
    lanes = [
        chain(
            researcher.si(run_key, m),
            content.si(run_key, m),
            quality.si(run_key, m),
            enhancer.si(run_key, m),
            multimedia.si(run_key, m),
        )
        for m in range(modules)
    ]
    chord(lanes)(finalizer.si(run_key, modules))


@app.task(ignore_result=True)
def researcher(run_key: str, module_index: int) -> None:
    _store(run_key, "researcher", module_index, {"findings": 3})


@app.task(ignore_result=True)
def content(run_key: str, module_index: int) -> None:
    _store(run_key, "content", module_index, {"sections": 4})


@app.task(ignore_result=True)
def quality(run_key: str, module_index: int) -> None:
    _store(run_key, "quality", module_index, {"score": 0.9})


@app.task(ignore_result=True)
def enhancer(run_key: str, module_index: int) -> None:
    _store(run_key, "enhancer", module_index, {"exercises": 2})


@app.task
def multimedia(run_key: str, module_index: int) -> int:
    # Its result is stored: the chord counts the lanes' last results to call the finalizer.
    _store(run_key, "multimedia", module_index, {"diagram": True})
    return module_index


@app.task(ignore_result=True)
def finalizer(run_key: str, modules: int) -> None:
    _store(run_key, "finalizer", -1, {"modules": modules})

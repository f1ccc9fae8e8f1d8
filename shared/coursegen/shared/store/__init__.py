"""The store: PostgreSQL through asyncpg, the source of truth for every artifact.

Functions take an ``Executor`` (a pool or a connection), so the same query
runs alone or inside a caller's transaction.
"""

from coursegen.shared.store._pool import Executor, connect, wait_for_database

__all__ = ["Executor", "connect", "wait_for_database"]

"""The store: PostgreSQL through asyncpg, the source of truth for every artifact.

The store is the only code that speaks SQL. One module per table group holds
the statements for those tables as short typed functions; each takes a
``Connection`` (held by the caller, usually inside ``Database.transaction``)
and returns frozen models. Company-scoped reads take the company from the
caller's stored record or signed-in user, never from a message.
"""

from coursegen.shared.store._pool import (
    COMPANY_SETTING,
    AlreadyStored,
    Connection,
    Database,
    connect,
    scope_to_company,
    scoped_session,
    unit_of_work,
    wait_for_database,
)

__all__ = [
    "COMPANY_SETTING",
    "AlreadyStored",
    "Connection",
    "Database",
    "connect",
    "scope_to_company",
    "scoped_session",
    "unit_of_work",
    "wait_for_database",
]

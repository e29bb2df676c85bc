"""Durable storage: one :class:`EventStore` interface, SQLite by default (see ``base``), made
of narrow interfaces, one per concern (``interfaces``: :class:`EventLog`, :class:`Rooms`,
:class:`Tokens`, :class:`Positions`, :class:`Outbox`, :class:`Sessions`, :class:`Identities`, :class:`Usage`).

``open_store(url)`` picks the backend: a ``postgresql://`` / ``postgres://`` URL opens
:class:`~dylive.store.postgres.PostgresStore` (needs the ``postgres`` extra: psycopg), anything
else is an SQLite file path.
"""

from __future__ import annotations

from pathlib import Path

from dylive.errors import StoreError

from .base import (
    ArrowPages,
    AuditEntry,
    ColumnsPage,
    DeadLetter,
    EventLog,
    EventStore,
    Fence,
    Identities,
    IdentityRecord,
    JoinedPage,
    Outbox,
    Page,
    Positions,
    QuarantinedMessage,
    Quota,
    RawRow,
    Record,
    RoomRecord,
    Rooms,
    SessionRecord,
    Sessions,
    StoredMessage,
    TokenChange,
    TokenNameTaken,
    TokenRecord,
    Tokens,
    UpstreamPosition,
    Usage,
    UsageRow,
    WebhookRecord,
)
from .sqlite import SQLiteStore

POSTGRES_SCHEMES = ("postgresql://", "postgres://")


def is_postgres_url(url: str) -> bool:
    return url.strip().lower().startswith(POSTGRES_SCHEMES)


def open_store(url: str) -> EventStore:
    """The store for ``url``: a ``postgresql://`` URL, else an SQLite file path (not opened yet)."""
    if is_postgres_url(url):
        try:
            from .postgres import PostgresStore
        except ImportError as exc:
            raise StoreError(
                f"PostgreSQL needs psycopg: pip install 'dylive[postgres]' (import failed: {exc})"
            ) from exc
        return PostgresStore(url.strip())
    return SQLiteStore(url)


def require_existing(url: str) -> None:
    """StoreError unless ``url`` names an existing SQLite file (PostgreSQL URLs pass): commands
    that only read or change a database must not create an empty one from a typo."""
    if not is_postgres_url(url) and not Path(url).is_file():
        raise StoreError(f"no database file at {url!r}")


__all__ = [
    "ArrowPages",
    "AuditEntry",
    "ColumnsPage",
    "DeadLetter",
    "EventLog",
    "EventStore",
    "Fence",
    "Identities",
    "IdentityRecord",
    "JoinedPage",
    "Outbox",
    "Page",
    "Positions",
    "QuarantinedMessage",
    "Quota",
    "RawRow",
    "Record",
    "RoomRecord",
    "Rooms",
    "SQLiteStore",
    "SessionRecord",
    "Sessions",
    "StoredMessage",
    "TokenChange",
    "TokenNameTaken",
    "TokenRecord",
    "Tokens",
    "UpstreamPosition",
    "Usage",
    "UsageRow",
    "WebhookRecord",
    "is_postgres_url",
    "open_store",
    "require_existing",
]

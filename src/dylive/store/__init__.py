"""Durable storage: one :class:`EventStore` interface, SQLite by default (see ``base``)."""

from __future__ import annotations

from dylive.errors import StoreError

from .base import EventStore, Page, Record, RoomRecord, StoredMessage, TokenRecord
from .sqlite import SQLiteStore


def open_store(url: str) -> EventStore:
    """The store for ``url``: a ``postgresql://`` URL, else an SQLite file path (not opened yet)."""
    if url.startswith(("postgresql://", "postgres://")):
        raise StoreError("PostgreSQL is not supported yet")
    return SQLiteStore(url)


__all__ = [
    "EventStore",
    "Page",
    "Record",
    "RoomRecord",
    "SQLiteStore",
    "StoredMessage",
    "TokenRecord",
    "open_store",
]

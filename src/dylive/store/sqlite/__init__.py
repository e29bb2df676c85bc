"""SQLite implementation of :class:`~dylive.store.base.EventStore`: the embedded default.

``engine`` holds the connections, the one batching writer task and the tail cache; each other
module holds the queries of one concern (a narrow interface of :mod:`dylive.store.interfaces`)
as a subclass of the engine, and :class:`SQLiteStore` joins them.
"""

from __future__ import annotations

from ..base import EventStore
from .events import SQLiteEventLog
from .identities import SQLiteIdentities
from .outbox import SQLiteOutbox
from .positions import SQLitePositions
from .rooms import SQLiteRooms
from .sessions import SQLiteSessions
from .tokens import SQLiteTokens
from .usage import SQLiteUsage


class SQLiteStore(
    SQLiteEventLog,
    SQLiteRooms,
    SQLiteTokens,
    SQLitePositions,
    SQLiteOutbox,
    SQLiteSessions,
    SQLiteIdentities,
    SQLiteUsage,
    EventStore,
):
    """``SQLiteStore(path)``; use as ``async with`` or call :meth:`open` / :meth:`close`.

    ``busy_timeout``: seconds a write waits for another process's lock before it fails (as a
    transient StoreError the caller may retry). See :class:`~.engine.SQLiteEngine` for the other
    arguments.
    """


__all__ = ["SQLiteStore"]

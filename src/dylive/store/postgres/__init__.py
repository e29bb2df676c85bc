"""PostgreSQL implementation of :class:`~dylive.store.base.EventStore`: for when one machine is
not enough (several processes, a fleet).

``engine`` holds the writer connection and task, the reader ``pool``, LISTEN/NOTIFY and the
caches' wiring (``cache``); ``append`` is the combined append statement of a writer batch; each
other module holds the queries of one concern (a narrow interface of
:mod:`dylive.store.interfaces`) as a subclass of the engine, and :class:`PostgresStore` joins
them. Needs the ``postgres`` extra (psycopg).
"""

from __future__ import annotations

from ..base import EventStore
from ..dburl import redact
from .events import PostgresEventLog
from .identities import PostgresIdentities
from .outbox import PostgresOutbox
from .positions import PostgresPositions
from .rooms import PostgresRooms
from .sessions import PostgresSessions
from .tokens import PostgresTokens
from .usage import PostgresUsage


class PostgresStore(
    PostgresEventLog,
    PostgresRooms,
    PostgresTokens,
    PostgresPositions,
    PostgresOutbox,
    PostgresSessions,
    PostgresIdentities,
    PostgresUsage,
    EventStore,
):
    """``PostgresStore("postgresql://user@host/db")``; ``async with`` or :meth:`open`/:meth:`close`.

    ``poll_interval``: how often waiters re-check the database while the notification listener
    is down (seconds; default: the ``pg_poll_interval`` setting). While it is up, waiters wake
    on notifications only. See :class:`~.engine.PostgresEngine` for the other arguments.
    """


__all__ = ["PostgresStore", "redact"]

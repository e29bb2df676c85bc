"""The one storage interface (``EventStore``): the composition of the narrow interfaces.

:class:`EventStore` joins every concern of :mod:`dylive.store.interfaces` (:class:`EventLog`,
:class:`Rooms`, :class:`Tokens`, :class:`Positions`, :class:`Outbox`, :class:`Sessions`,
:class:`Identities`, :class:`Usage`) with the lifecycle (open/close, ``async with``). SQLite
(``dylive.store.sqlite``) is the embedded default and PostgreSQL (``dylive.store.postgres``)
implements the same abstract methods. The records live in :mod:`dylive.store.records` and are
re-exported here.

Model:

- ``events``: one row per stored message. ``seq`` is a store-wide monotonic integer (hence
  monotonic per room); ``(room_id, msg_id)`` is unique, a duplicate append is ignored. Each row
  keeps the rendered public JSON (bytes, exact integers) and the raw protobuf payload.
- ``rooms``: what we know about a broadcast (room_id ↔ web_rid, anchor).
- ``tokens``: API tokens, stored as sha256 hex digests only, with their expiry and quotas.
- ``token_usage`` / ``token_usage_rooms`` / ``admin_audit``: hourly usage counters per token,
  endpoint and result code (additive upserts), the rooms each token used per hour, and the log
  of admin API actions (:class:`Usage`).
- ``positions``: where a token last read a room (the seq after which it continues).
- ``pins``: rooms collected without being polled.
- ``upstream_positions``: per room, where the collector stands upstream (:class:`UpstreamPosition`),
  written in the same transaction as the batch of messages it covers, so a restart resumes
  exactly after the last stored message.
- ``outbox_positions``: where each named delivery consumer (``webhook:<id>``, ``nats:<name>``…)
  has delivered each room up to (see :mod:`dylive.deliver.outbox`).
- ``dead_letters``: batches a consumer gave up on, with their bytes and last error.
- ``webhooks``: registered webhook targets (their secrets are never returned by the API).
- ``sessions``: one row per broadcast (room_id) for analytics: its facts, the analytics
  checkpoint (an opaque state blob and the seq it covers) and the stored report once finished.
- ``fleet_nodes`` / ``fleet_rooms``: the fleet's node registry and room leases (``dylive.fleet``;
  used with PostgreSQL only, the tables exist in both backends). ``append(…, fence=Fence(node,
  epoch))`` checks, in the transaction that stores the batch, that ``node`` still holds the room's
  lease at ``epoch``, and raises :class:`~dylive.errors.LeaseLost` otherwise (nothing stored).
"""

from __future__ import annotations

import abc

from .interfaces import (
    ArrowPages,
    EventLog,
    Identities,
    Outbox,
    Positions,
    Rooms,
    Sessions,
    Tokens,
    Usage,
)
from .records import (
    AuditEntry,
    ColumnsPage,
    DeadLetter,
    Fence,
    IdentityRecord,
    JoinedPage,
    Page,
    QuarantinedMessage,
    Quota,
    RawRow,
    Record,
    RoomRecord,
    SessionRecord,
    StoredMessage,
    TokenChange,
    TokenNameTaken,
    TokenRecord,
    UpstreamPosition,
    UsageRow,
    WebhookRecord,
)


class EventStore(EventLog, Rooms, Tokens, Positions, Outbox, Sessions, Identities, Usage, abc.ABC):
    """Durable storage for messages, rooms, tokens, read positions, delivery, analytics sessions,
    identities and usage: every narrow interface, plus the lifecycle.

    All methods are coroutines that never block the event loop. Writes that must be durable
    before a response is sent are awaited; :meth:`append` returns once the batch holding the
    records is committed.
    """

    @abc.abstractmethod
    async def open(self) -> None:
        """Connect, run migrations, start background tasks."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Flush pending writes and release every resource."""

    @abc.abstractmethod
    async def check(self, *, within: float, stalled_after: float) -> list[str]:
        """The store's problems right now, empty when healthy (for ``/healthz``), answered
        within ``within`` seconds: a read and a write through the writer that do not both
        answer within ``within`` (or fail), pending writes not committed for more than
        ``stalled_after`` seconds. See :mod:`dylive.store.health`."""

    async def __aenter__(self) -> EventStore:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


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
]

"""The store's narrow interfaces, one per concern.

:class:`~dylive.store.base.EventStore` is the composition of all of them (plus open/close); a
consumer that needs one concern can be typed against that interface alone. Every method is a
coroutine that never blocks the event loop; writes that must be durable before a response is
sent are awaited. Tables behind each interface (both backends, see ``migrations``):

- :class:`EventLog`: ``events``, ``upstream_positions``, ``quarantine`` (and, for fenced
  appends, the lease rows of ``fleet_rooms``, owned by :mod:`dylive.fleet`).
- :class:`Rooms`: ``rooms``, ``pins``.
- :class:`Tokens`: ``tokens``.
- :class:`Positions`: ``positions`` (per token and room), ``outbox_positions`` (per consumer
  and room).
- :class:`Outbox`: ``webhooks``, ``dead_letters`` (and a consumer's ``outbox_positions``).
- :class:`Sessions`: ``sessions``.
- :class:`Identities`: ``identities``.
- :class:`Usage`: ``token_usage``, ``token_usage_rooms``, ``admin_audit``.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Collection, Iterable, Sequence
from typing import Any

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
    TokenChange,
    TokenRecord,
    UpstreamPosition,
    UsageRow,
    WebhookRecord,
)
from .usage import PRUNE_BATCH, PRUNE_MESSAGES_BATCH


class EventLog(abc.ABC):
    """The message log: appends (with the upstream position they cover and the fleet fence),
    quarantine of poison messages, and every read of stored messages.

    ``seq`` is a store-wide monotonic integer (hence monotonic per room); ``(room_id, msg_id)``
    is unique and a duplicate append is ignored. Each row keeps the rendered public JSON and the
    raw protobuf payload. Used by the collector (append, upstream positions, quarantine), the
    HTTP API (pages, long-poll waits), analytics (scan, messages_of), delivery (room_heads,
    reads) and retention (prune).
    """

    @abc.abstractmethod
    async def append(
        self,
        records: Sequence[Record],
        *,
        position: UpstreamPosition | None = None,
        fence: Fence | None = None,
    ) -> int:
        """Store ``records`` (duplicates of ``(room_id, msg_id)`` ignored); number inserted.

        ``position``, when given, is the upstream position after ``records`` for its room; it
        is stored in the same transaction (atomically with the records: both or neither), also
        when ``records`` is empty. Raises :class:`~dylive.errors.StoreError`; its ``transient``
        attribute says whether retrying the same call may succeed (connection lost, database
        locked, disk full) or not (a record the database refuses, e.g. an out-of-range number).
        Further keyword-only arguments may be added; callers pass keywords.

        ``fence`` (fleet mode; records and position of that one room): the write happens only if
        ``fence.node`` holds the room's lease at ``fence.epoch`` when the transaction runs;
        otherwise nothing is stored and :class:`~dylive.errors.LeaseLost` is raised.
        """

    @abc.abstractmethod
    async def upstream_position(self, room_id: int) -> UpstreamPosition | None:
        """The upstream position last stored for ``room_id`` by :meth:`append` (None if none)."""

    @abc.abstractmethod
    async def quarantine(self, record: Record, error: str) -> None:
        """Keep ``record`` (a poison message: its raw bytes) aside with ``error``."""

    @abc.abstractmethod
    async def quarantined(self, room_id: int, limit: int = 100) -> list[QuarantinedMessage]:
        """The latest ``limit`` quarantined messages of ``room_id``, newest first."""

    @abc.abstractmethod
    async def read(
        self,
        room_id: int,
        after_seq: int,
        limit: int,
        methods: frozenset[str] | None = None,
    ) -> Page:
        """Up to ``limit`` messages of ``room_id`` with seq > ``after_seq`` (``methods`` filter)."""

    async def read_joined(
        self,
        room_id: int,
        after_seq: int,
        limit: int,
        methods: frozenset[str] | None = None,
    ) -> JoinedPage:
        """The page :meth:`read` returns, as the chat endpoint sends it (a store may build the
        joined bytes without a Python object per message)."""
        return JoinedPage.of(await self.read(room_id, after_seq, limit, methods))

    @abc.abstractmethod
    async def backlog_start(
        self, room_id: int, count: int, methods: frozenset[str] | None = None
    ) -> int:
        """The seq to read after so that the next read (same ``methods``) returns the ``count``
        latest messages among those of ``methods`` (None = every method)."""

    @abc.abstractmethod
    async def last_seq(self, room_id: int) -> int:
        """The highest seq stored for ``room_id`` (0 if none)."""

    @abc.abstractmethod
    async def wait_for(self, room_id: int, after_seq: int, within: float) -> bool:
        """Wait until ``room_id`` has a message with seq > ``after_seq``; False on timeout (kept
        late by up to ``store.waiters.GRANULARITY``, never early)."""

    @abc.abstractmethod
    async def messages_of(
        self, room_id: int, methods: Iterable[str], after_seq: int
    ) -> list[tuple[int, int, str, bytes]]:
        """``(seq, msg_id, method, raw)`` of every message of ``room_id`` in ``methods`` after a seq."""

    @abc.abstractmethod
    async def scan(
        self, room_id: int, after_seq: int, limit: int, *, rendered: bool = False
    ) -> list[RawRow]:
        """Up to ``limit`` rows of ``room_id`` with seq > ``after_seq``, in seq order: raw
        payloads, or the rendered JSON with ``rendered=True``."""

    @abc.abstractmethod
    async def scan_columns(self, room_id: int, after_seq: int, limit: int) -> ColumnsPage:
        """The rows :meth:`scan` with ``rendered=True`` returns, as two blocks of bytes built by
        the database (:class:`ColumnsPage`; the Parquet export's bulk read)."""

    def arrow_pages(self) -> ArrowPages | None:
        """A bulk reader of pages as Arrow tables (:class:`ArrowPages`) when this store has one
        (PostgreSQL with the ``parquet-postgres`` extra); None otherwise (:meth:`scan_columns`
        is the bulk read then)."""
        return None

    @abc.abstractmethod
    async def prune(self, older_than_ms: int, batch: int = PRUNE_MESSAGES_BATCH) -> int:
        """Delete messages stored before ``older_than_ms`` (retention): the oldest, up to the
        first one stored at/after it (each room keeps an unbroken run of its newest), at most
        ``batch`` rows per write so that other writes (appends) go in between; number
        deleted. The tail cache stops serving them after each batch."""

    @abc.abstractmethod
    async def room_heads(self) -> dict[int, int]:
        """``{room_id: last seq}`` of every room with stored messages (for all-rooms consumers)."""

    def on_commit(self, callback: Callable[[int], None]) -> None:
        """Call ``callback(room_id)`` when another process commits messages of a room (stores
        shared by several processes, PostgreSQL; a no-op for a single-process store)."""
        return None


class ArrowPages(abc.ABC):
    """Pages of a room's messages as Arrow tables, read on a connection of its own (the Parquet
    export's bulk read where the store has one, :meth:`EventLog.arrow_pages`). An async context
    manager: the connection is opened on entry and closed on exit, after any read in flight.
    One read at a time."""

    async def __aenter__(self) -> ArrowPages:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @abc.abstractmethod
    async def open(self) -> None:
        """Connect (``StoreError`` when the database cannot be reached)."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Close the connection once no read is in flight."""

    @abc.abstractmethod
    async def read(self, room_id: int, after_seq: int, limit: int) -> Any:
        """Up to ``limit`` messages of ``room_id`` with seq > ``after_seq``, in seq order: a
        ``pyarrow.Table`` of ``seq`` (int64), ``msg_id`` (int64: the unsigned id as stored, its
        two's complement above 2^63), ``method`` (string), ``created_at`` (int64, ms) and
        ``rendered`` (binary: the stored rendered JSON); no rows after the last message."""


class Rooms(abc.ABC):
    """Broadcasts the store knows (room_id ↔ web_rid, anchor, title) and the pinned room
    identifiers (rooms collected without being polled).
    """

    @abc.abstractmethod
    async def upsert_room(self, room: RoomRecord) -> None:
        """Insert or update what we know about a broadcast."""

    @abc.abstractmethod
    async def find_room(self, *, room_id: int = 0, web_rid: str = "") -> RoomRecord | None:
        """The room with this room_id, else the latest broadcast of this web_rid."""

    @abc.abstractmethod
    async def set_pin(self, ident: str, pinned: bool) -> None:
        """Pin (collect without polling) or unpin a room identifier (web_rid or room_id)."""

    @abc.abstractmethod
    async def pins(self) -> list[str]:
        """The pinned room identifiers."""


class Tokens(abc.ABC):
    """API tokens, stored as sha256 hex digests only (the secret never reaches the store).
    Names are unique among active tokens; a revoked token stays listed.
    """

    @abc.abstractmethod
    async def create_token(
        self,
        name: str,
        digest: str,
        room_limit: int,
        rate: float,
        *,
        expires_at: int = 0,
        quota: Quota | None = None,
    ) -> int:
        """Store a new token digest; its id. TokenNameTaken when an active token has the name.
        ``expires_at``: ms since the epoch after which it is refused (0 = never); ``quota``:
        its plan (None = unlimited)."""

    @abc.abstractmethod
    async def token_by_digest(self, digest: str) -> TokenRecord | None:
        """The token whose digest is ``digest`` (revoked ones included)."""

    @abc.abstractmethod
    async def list_tokens(self) -> list[TokenRecord]:
        """Every token, oldest first."""

    @abc.abstractmethod
    async def revoke_token(self, ident: str | int) -> int:
        """Revoke the active token named ``ident`` (str) or with id ``ident`` (int); 0 or 1."""

    @abc.abstractmethod
    async def update_token(
        self, token_id: int, change: TokenChange
    ) -> tuple[TokenRecord, TokenRecord] | None:
        """Change the plan of the active token ``token_id`` in one write: its record before and
        after, or None when no active token has this id. TokenNameTaken when ``change`` renames
        it to the name of another active token. Every process's token lookups see the new
        record as they see a revocation."""


class Positions(abc.ABC):
    """Where readers stand: the seq an API token last read a room up to (long-poll
    continuation), and the seq each named delivery consumer (``webhook:<id>``, ``nats:<name>``…)
    has delivered each room up to. Both only move forward.
    """

    @abc.abstractmethod
    async def get_position(self, token_id: int, room_id: int) -> int | None:
        """The seq this token last read up to in this room (None if never)."""

    @abc.abstractmethod
    async def set_position(self, token_id: int, room_id: int, seq: int, *, wait: bool) -> None:
        """Remember the seq (only moves forward); ``wait`` = return after it is committed."""

    @abc.abstractmethod
    async def claim_position(self, token_id: int, room_id: int, after: int, seq: int) -> bool:
        """Move the position to ``seq`` unless a reader moved it beyond ``after`` first: a
        compare-and-set (the stored position, when there is one, must still be <= ``after``),
        committed when it returns. ``after`` is where the caller's page started (what
        :meth:`get_position` said, or the backlog start); False when another reader (here or
        on another process sharing the database) claimed messages after ``after``: read the
        position again and read on from there. Successful claims never overlap."""

    @abc.abstractmethod
    async def consumer_positions(self, consumer: str) -> dict[int, int]:
        """``{room_id: seq}`` delivered (acknowledged) by the named consumer, per room."""

    @abc.abstractmethod
    async def set_consumer_position(self, consumer: str, room_id: int, seq: int) -> None:
        """Record that ``consumer`` delivered ``room_id`` up to ``seq`` (only moves forward);
        returns once committed."""


class Outbox(abc.ABC):
    """The delivery side (:mod:`dylive.deliver`): registered webhooks (secrets never
    returned by the API), the dead letters of batches a consumer gave up on, and forgetting a
    consumer.
    """

    @abc.abstractmethod
    async def create_webhook(self, hook: WebhookRecord) -> int:
        """Store a webhook (its ``id`` and ``created_at`` are assigned); the new id."""

    @abc.abstractmethod
    async def webhooks(self, token_id: int | None = None) -> list[WebhookRecord]:
        """Every webhook (of one token when ``token_id`` is given), oldest first."""

    @abc.abstractmethod
    async def delete_webhook(self, hook_id: int) -> bool:
        """Remove a webhook with its positions and dead letters; False if unknown."""

    @abc.abstractmethod
    async def set_webhook_paused(self, hook_id: int, paused_at: int, reason: str) -> None:
        """Pause (``paused_at`` > 0) or resume (0) a webhook."""

    @abc.abstractmethod
    async def set_webhook_secret(
        self, hook_id: int, secret: str, previous_secret: str, previous_until: int
    ) -> None:
        """Replace a webhook's secret; ``previous_secret`` still signs until ``previous_until``."""

    @abc.abstractmethod
    async def add_dead_letter(self, letter: DeadLetter) -> int:
        """Store ``letter`` (its ``id`` is ignored) and, in the same transaction, move the
        consumer's position in that room forward to ``letter.last_seq``; the new id."""

    @abc.abstractmethod
    async def dead_letters(self, consumer: str, limit: int = 100) -> list[DeadLetter]:
        """The consumer's dead letters, oldest first (at most ``limit``)."""

    @abc.abstractmethod
    async def dead_letter(self, consumer: str, letter_id: int) -> DeadLetter | None:
        """One dead letter of the consumer (None if there is no such letter)."""

    @abc.abstractmethod
    async def count_dead_letters(self, consumer: str) -> int:
        """How many dead letters the consumer has."""

    @abc.abstractmethod
    async def delete_dead_letter(self, consumer: str, letter_id: int) -> bool:
        """Remove one dead letter (after a successful replay); False if there was none."""

    @abc.abstractmethod
    async def drop_consumer(self, consumer: str) -> None:
        """Forget the consumer's positions and dead letters."""


class Sessions(abc.ABC):
    """One analytics session per broadcast (room_id): its facts, the analytics checkpoint
    (an opaque state blob and the seq it covers, moved by compare-and-set, and its parts in
    ``session_parts``) and the report stored once the broadcast is finished. Nothing deletes a
    session (retention keeps them); one that would must delete its parts in the same transaction.
    """

    @abc.abstractmethod
    async def open_session(self, session: SessionRecord) -> SessionRecord:
        """The session of ``session.room_id``, inserted from ``session`` if absent (id ignored)."""

    @abc.abstractmethod
    async def save_session(
        self, session: SessionRecord, expected_seq: int, part: bytes = b"", drop_before: int = 0
    ) -> bool:
        """Write every field of ``session`` if its stored ``last_seq`` is still
        ``expected_seq`` (compare-and-set) and, when the stored session has ended, ``session``
        has its end too (a writer that does not know of the end never overwrites it); False
        when another writer moved it. A non-empty
        ``part`` (what the checkpoint added since the previous one) is appended to the session's
        parts under ``session.last_seq`` in the same transaction, only when the row was written;
        ``drop_before`` (the end of a compaction: the parts from that seq on hold the whole
        tally): the session's parts saved before that seq are deleted in that transaction too,
        before ``part`` is added (past ``session.last_seq``, at a session's end: every part goes,
        one saved under that seq already too, and ``part`` is the whole tally).
        """

    @abc.abstractmethod
    async def session_parts(self, session_id: int, upto_seq: int) -> list[bytes]:
        """The session's checkpoint parts saved up to ``upto_seq`` (the ``last_seq`` of the row
        they complete), oldest first."""

    @abc.abstractmethod
    async def get_session(self, *, session_id: int = 0, room_id: int = 0) -> SessionRecord | None:
        """One session with its state and report, by id or by room_id."""

    @abc.abstractmethod
    async def list_sessions(self, *, web_rid: str = "", room_id: int = 0) -> list[SessionRecord]:
        """Sessions of a web_rid (or the one of a room_id), newest first, without state/report."""


class Identities(abc.ABC):
    """Upstream identities: a cookie bound to one exit (proxy) and one User-Agent, with its
    health (cooldown, expiry, strikes) as the identity pool records it.
    """

    @abc.abstractmethod
    async def save_identity(self, identity: IdentityRecord) -> None:
        """Insert or replace the identity named ``identity.name``."""

    @abc.abstractmethod
    async def identities(self) -> list[IdentityRecord]:
        """Every stored identity, by name."""

    @abc.abstractmethod
    async def remove_identity(self, name: str) -> int:
        """Delete the identity; the number of rows deleted (0 or 1)."""

    @abc.abstractmethod
    async def set_identity_state(
        self, name: str, *, state: str, cooldown_until: int, strikes: int, note: str
    ) -> None:
        """Record an identity's health (cooldown, expiry, last check)."""


class Usage(abc.ABC):
    """What tokens used and what admins did: hourly usage counters per token, endpoint and
    result code (added to, never overwritten: each process adds the counts it metered, so the
    nodes of a fleet sum up), the rooms each token used per hour, and the admin audit log.
    """

    @abc.abstractmethod
    async def add_usage(
        self, rows: Sequence[UsageRow], rooms: Iterable[tuple[int, int, int]] = ()
    ) -> None:
        """In one transaction: add each row's counters to the stored row of its key
        ``(token_id, hour, endpoint, code)`` (inserted at 0 if absent), and record the
        ``(token_id, hour, room_id)`` room uses (duplicates ignored). Returns once committed."""

    @abc.abstractmethod
    async def usage(self, token_id: int | None, start_ms: int, end_ms: int) -> list[UsageRow]:
        """The stored rows with ``start_ms <= hour < end_ms`` (of one token, or of every token
        when ``token_id`` is None), by token, hour, endpoint and code."""

    @abc.abstractmethod
    async def usage_rooms(
        self, token_id: int | None, start_ms: int, end_ms: int
    ) -> list[tuple[int, int, int]]:
        """The ``(token_id, hour, room_id)`` room uses with ``start_ms <= hour < end_ms``."""

    @abc.abstractmethod
    async def usage_totals(
        self, token_ids: Collection[int], since_ms: int
    ) -> dict[int, tuple[int, int]]:
        """``{token_id: (billable requests, messages)}`` stored since ``since_ms`` (an hour
        start) for each of ``token_ids`` (absent: nothing stored)."""

    @abc.abstractmethod
    async def add_audit(self, entry: AuditEntry) -> int:
        """Append an admin action to the audit log (its ``id`` is assigned); the new id."""

    @abc.abstractmethod
    async def audit(self, limit: int = 100, before_id: int = 0) -> list[AuditEntry]:
        """The latest ``limit`` audit entries (with ``id < before_id`` when given), newest
        first."""

    @abc.abstractmethod
    async def prune_usage(self, before_ms: int, batch: int = PRUNE_BATCH) -> int:
        """Delete the usage counters and room uses of hours before ``before_ms`` (retention),
        at most ``batch`` rows per write so that other writes go in between; number deleted."""

    @abc.abstractmethod
    async def prune_audit(self, before_ms: int, batch: int = PRUNE_BATCH) -> int:
        """Delete the audit entries made before ``before_ms`` (retention), at most ``batch``
        rows per write; number deleted."""

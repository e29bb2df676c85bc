"""The one storage interface (``EventStore``) and the records it exchanges.

The API layer talks only to :class:`EventStore`; SQLite (``dylive.store.sqlite``) is the embedded
default and other backends (PostgreSQL) implement the same abstract methods.

Model:

- ``events``: one row per stored message. ``seq`` is a store-wide monotonic integer (hence
  monotonic per room); ``(room_id, msg_id)`` is unique, a duplicate append is ignored. Each row
  keeps the rendered public JSON (bytes, exact integers) and the raw protobuf payload.
- ``rooms``: what we know about a broadcast (room_id ↔ web_rid, anchor).
- ``tokens``: API tokens, stored as sha256 hex digests only.
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
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from dylive.errors import StoreError


class TokenNameTaken(StoreError):
    """An active token already has this name (names are unique among active tokens)."""


@dataclass(frozen=True, slots=True)
class Record:
    """One message to append: envelope plus rendered JSON and raw payload."""

    room_id: int
    msg_id: int
    method: str
    created_at: int  # ms, 0 when unknown
    rendered: bytes  # the public JSON shape, serialized (orjson)
    raw: bytes = b""


@dataclass(frozen=True, slots=True)
class Fence:
    """The lease a collector writes under: the store refuses the write unless ``node`` still
    owns the room at ``epoch`` (checked inside the transaction that stores the batch)."""

    node: str
    epoch: int


class StoredMessage(NamedTuple):
    """One stored message as read back (a NamedTuple: one is built per row read, and a tuple
    costs about a third of a frozen dataclass)."""

    seq: int
    room_id: int
    msg_id: int
    method: str
    created_at: int
    stored_at: int  # ms
    rendered: bytes


@dataclass(frozen=True, slots=True)
class Page:
    """The result of :meth:`EventStore.read`.

    ``messages`` are the matching rows after the requested seq, in seq order; ``last_seq`` is the
    seq the next read continues after (it also covers skipped rows); ``ignored`` lists the
    methods of rows that were skipped because they were not asked for.
    """

    messages: list[StoredMessage]
    last_seq: int
    ignored: list[str] = field(default_factory=list)


class JoinedPage(NamedTuple):
    """A page as the chat endpoint sends it (:meth:`EventStore.read_joined`): the ``size``
    matching messages' rendered JSON joined by ``,`` in seq order (``body``), the msg_id of the
    last of them (0 when there is none), and ``last_seq`` / ``ignored`` as in :class:`Page`.
    (A NamedTuple: one is built per request.)"""

    size: int
    body: bytes
    last_seq: int
    last_msg_id: int = 0
    ignored: tuple[str, ...] = ()

    @classmethod
    def of(cls, page: Page) -> JoinedPage:
        rows = page.messages
        body = b",".join([row.rendered for row in rows])
        last_msg_id = rows[-1].msg_id if rows else 0
        return cls(len(rows), body, page.last_seq, last_msg_id, tuple(page.ignored))


@dataclass(frozen=True, slots=True)
class RoomRecord:
    """What the store knows about one broadcast."""

    room_id: int
    web_rid: str = ""
    status: int = 0
    anchor_uid: int = 0
    anchor_sec_uid: str = ""
    anchor_nickname: str = ""
    title: str = ""
    updated_at: int = 0  # ms


@dataclass(frozen=True, slots=True)
class UpstreamPosition:
    """Where the collection of one room stands upstream (Douyin or the simulator).

    ``cursor``/``internal_ext`` are the continuation tokens the next im/fetch request or push
    connection sends to get the messages *after* everything stored; ``push_server`` the push
    base URL im/fetch announced ("" = ask im/fetch first); ``transport`` the one that produced
    the position (``push`` | ``poll`` | ""); ``last_msg_id`` the newest stored msg_id it covers
    (informational); ``updated_at`` the commit time in ms (set by the store when 0).

    Stored by :meth:`EventStore.append` in the same transaction as the records it covers, so
    the stored position never runs ahead of the stored messages: resuming from it can only
    repeat messages (ignored as duplicates), never skip one.
    """

    room_id: int
    transport: str = ""
    cursor: str = ""
    internal_ext: str = ""
    push_server: str = ""
    last_msg_id: int = 0
    updated_at: int = 0  # ms

    def __bool__(self) -> bool:
        return bool(self.cursor or self.internal_ext)


@dataclass(frozen=True, slots=True)
class QuarantinedMessage:
    """A message the store refused on its own (a poison message), kept aside with the error."""

    id: int
    room_id: int
    msg_id: int
    method: str
    raw: bytes
    error: str
    stored_at: int  # ms


@dataclass(frozen=True, slots=True)
class TokenRecord:
    """An API token (its secret is never stored, only the sha256 hex digest)."""

    id: int
    name: str
    digest: str
    room_limit: int  # 0 = unlimited
    rate: float  # requests per second, 0 = unlimited
    created_at: int  # ms
    revoked_at: int = 0  # ms, 0 = active

    @property
    def active(self) -> bool:
        return self.revoked_at == 0


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A batch a delivery consumer gave up on: the seq range it covered, why, and its messages.

    ``body`` is a JSON array of ``{"seq", "msg_id", "method", "created_at", "stored_at",
    "message"}`` objects (``message`` = the rendered JSON), enough to send the batch again.
    """

    id: int
    consumer: str
    room_id: int
    first_seq: int
    last_seq: int
    count: int
    error: str
    attempts: int
    created_at: int  # ms
    body: bytes


@dataclass(frozen=True, slots=True)
class WebhookRecord:
    """A registered webhook. ``secret`` is needed to sign and is never shown after creation."""

    id: int
    token_id: int
    url: str
    secret: str = field(repr=False)
    rooms: tuple[str, ...]  # room identifiers as given (web_rid, room_id)
    methods: tuple[str, ...] = ()  # () = the chat endpoint's default set
    batch_size: int = 100
    batch_ms: int = 100
    created_at: int = 0  # ms
    paused_at: int = 0  # ms, 0 = delivering
    pause_reason: str = ""
    previous_secret: str = field(default="", repr=False)  # still signs until previous_until
    previous_until: int = 0  # ms, the end of a secret rotation's grace period


@dataclass(frozen=True, slots=True)
class SessionRecord:
    """One broadcast (a room_id) as analytics keeps it; ``state``/``report`` are opaque bytes.

    ``last_seq`` is the highest event seq folded into ``state``: the checkpoint moves only
    with :meth:`EventStore.save_session` (compare-and-set on ``last_seq``).
    """

    id: int
    room_id: int
    web_rid: str = ""
    title: str = ""
    anchor: str = ""
    started_at: int = 0  # ms
    ended_at: int = 0  # ms, 0 while running
    last_seq: int = 0
    state: bytes = b""
    report: bytes = b""
    updated_at: int = 0  # ms


#: ``(seq, msg_id, method, created_at, raw)`` as :meth:`EventStore.scan` returns them.
RawRow = tuple[int, int, str, int, bytes]


@dataclass(frozen=True, slots=True)
class IdentityRecord:
    """An upstream identity: a cookie bound to one exit (proxy) and one User-Agent.

    ``state`` is ``ok``, ``cooling`` (until ``cooldown_until``) or ``expired`` (the cookie is no
    longer logged in); ``strikes`` counts risk signals (the next cooldown doubles).
    """

    name: str
    cookie: str
    proxy: str = ""
    user_agent: str = ""
    max_rooms: int = 0  # 0 = the service default
    created_at: int = 0  # ms
    state: str = "ok"
    cooldown_until: int = 0  # ms
    strikes: int = 0
    note: str = ""  # the last reason / check result


class EventStore(abc.ABC):
    """Durable storage for messages, rooms, tokens, read positions and pins.

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

    async def __aenter__(self) -> EventStore:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- messages -----------------------------------------------------------------------------
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
        """Wait until ``room_id`` has a message with seq > ``after_seq``; False on timeout."""

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
    async def prune(self, older_than_ms: int) -> int:
        """Delete messages stored before ``older_than_ms``; number deleted (retention)."""

    # -- rooms --------------------------------------------------------------------------------
    @abc.abstractmethod
    async def upsert_room(self, room: RoomRecord) -> None:
        """Insert or update what we know about a broadcast."""

    @abc.abstractmethod
    async def find_room(self, *, room_id: int = 0, web_rid: str = "") -> RoomRecord | None:
        """The room with this room_id, else the latest broadcast of this web_rid."""

    # -- tokens -------------------------------------------------------------------------------
    @abc.abstractmethod
    async def create_token(self, name: str, digest: str, room_limit: int, rate: float) -> int:
        """Store a new token digest; its id. TokenNameTaken when an active token has the name."""

    @abc.abstractmethod
    async def token_by_digest(self, digest: str) -> TokenRecord | None:
        """The token whose digest is ``digest`` (revoked ones included)."""

    @abc.abstractmethod
    async def list_tokens(self) -> list[TokenRecord]:
        """Every token, oldest first."""

    @abc.abstractmethod
    async def revoke_token(self, ident: str | int) -> int:
        """Revoke the active token named ``ident`` (str) or with id ``ident`` (int); 0 or 1."""

    # -- positions ----------------------------------------------------------------------------
    @abc.abstractmethod
    async def get_position(self, token_id: int, room_id: int) -> int | None:
        """The seq this token last read up to in this room (None if never)."""

    @abc.abstractmethod
    async def set_position(self, token_id: int, room_id: int, seq: int, *, wait: bool) -> None:
        """Remember the seq (only moves forward); ``wait`` = return after it is committed."""

    # -- pins ---------------------------------------------------------------------------------
    @abc.abstractmethod
    async def set_pin(self, ident: str, pinned: bool) -> None:
        """Pin (collect without polling) or unpin a room identifier (web_rid or room_id)."""

    @abc.abstractmethod
    async def pins(self) -> list[str]:
        """The pinned room identifiers."""

    # -- delivery outbox (dylive.deliver) -------------------------------------------------------
    @abc.abstractmethod
    async def consumer_positions(self, consumer: str) -> dict[int, int]:
        """``{room_id: seq}`` delivered (acknowledged) by the named consumer, per room."""

    @abc.abstractmethod
    async def set_consumer_position(self, consumer: str, room_id: int, seq: int) -> None:
        """Record that ``consumer`` delivered ``room_id`` up to ``seq`` (only moves forward);
        returns once committed."""

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

    @abc.abstractmethod
    async def room_heads(self) -> dict[int, int]:
        """``{room_id: last seq}`` of every room with stored messages (for all-rooms consumers)."""

    # -- webhooks -------------------------------------------------------------------------------
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

    # -- sessions (analytics) -----------------------------------------------------------------
    @abc.abstractmethod
    async def open_session(self, session: SessionRecord) -> SessionRecord:
        """The session of ``session.room_id``, inserted from ``session`` if absent (id ignored)."""

    @abc.abstractmethod
    async def save_session(self, session: SessionRecord, expected_seq: int) -> bool:
        """Write every field of ``session`` if its stored ``last_seq`` is still
        ``expected_seq`` (compare-and-set); False when another writer moved it."""

    @abc.abstractmethod
    async def get_session(self, *, session_id: int = 0, room_id: int = 0) -> SessionRecord | None:
        """One session with its state and report, by id or by room_id."""

    @abc.abstractmethod
    async def list_sessions(self, *, web_rid: str = "", room_id: int = 0) -> list[SessionRecord]:
        """Sessions of a web_rid (or the one of a room_id), newest first, without state/report."""

    # -- commit notifications -----------------------------------------------------------------
    def on_commit(self, callback: Callable[[int], None]) -> None:
        """Call ``callback(room_id)`` when another process commits messages of a room (stores
        shared by several processes, PostgreSQL; a no-op for a single-process store)."""
        return None

    # -- identities -----------------------------------------------------------------------------
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

"""The records the store exchanges: what callers append and what reads return.

Frozen dataclasses (and NamedTuples for the per-row and per-request results of hot paths); the
interfaces of :mod:`dylive.store.interfaces` take and return these only.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
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
    """The result of :meth:`EventLog.read`.

    ``messages`` are the matching rows after the requested seq, in seq order; ``last_seq`` is the
    seq the next read continues after (it also covers skipped rows); ``ignored`` lists the
    methods of rows that were skipped because they were not asked for.
    """

    messages: list[StoredMessage]
    last_seq: int
    ignored: list[str] = field(default_factory=list)


class JoinedPage(NamedTuple):
    """A page as the chat endpoint sends it (:meth:`EventLog.read_joined`): the ``size``
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

    Stored by :meth:`EventLog.append` in the same transaction as the records it covers, so
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
class Quota:
    """A token's plan: billable (HTTP 200) requests and delivered messages allowed per UTC day
    and per UTC calendar month; 0 = no limit."""

    requests_per_day: int = 0
    requests_per_month: int = 0
    messages_per_day: int = 0
    messages_per_month: int = 0

    def __bool__(self) -> bool:
        return bool(
            self.requests_per_day
            or self.requests_per_month
            or self.messages_per_day
            or self.messages_per_month
        )


NO_QUOTA = Quota()


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
    expires_at: int = 0  # ms, 0 = never
    quota: Quota = NO_QUOTA

    @property
    def active(self) -> bool:
        return self.revoked_at == 0

    def expired(self, now_ms: int) -> bool:
        return 0 < self.expires_at <= now_ms


@dataclass(frozen=True, slots=True)
class TokenChange:
    """A change of an active token's plan: each field given (not None) replaces the stored one;
    ``quota`` names only the quota fields that change. The secret, id and creation time stay."""

    name: str | None = None
    room_limit: int | None = None  # 0 = unlimited
    rate: float | None = None  # requests per second, 0 = unlimited
    expires_at: int | None = None  # ms, 0 = never
    quota: dict[str, int] = field(default_factory=dict)  # Quota field name -> new value

    def applied(self, record: TokenRecord) -> TokenRecord:
        """``record`` with this change (quota fields merged into its quota)."""
        return replace(
            record,
            name=record.name if self.name is None else self.name,
            room_limit=record.room_limit if self.room_limit is None else self.room_limit,
            rate=record.rate if self.rate is None else self.rate,
            expires_at=record.expires_at if self.expires_at is None else self.expires_at,
            quota=replace(record.quota, **self.quota) if self.quota else record.quota,
        )


@dataclass(frozen=True, slots=True)
class UsageRow:
    """Usage counters of one token in one UTC hour for one endpoint and result code.

    ``hour`` is the hour's start (ms since the epoch); ``endpoint`` an HTTP endpoint name
    (``chat``, ``audience``…) or a push channel (``webhook``, ``feed``: messages only, no
    requests); ``code`` the envelope code answered (200 = billable). Counters are additive:
    the store adds a row's figures to what it holds for the same key (every node of a fleet
    adds its own).
    """

    token_id: int
    hour: int
    endpoint: str
    code: int
    requests: int = 0
    messages: int = 0
    bytes: int = 0


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One admin API action: who (the client address), what, on what, and the answer's code."""

    id: int
    at: int  # ms
    actor: str
    action: str
    target: str = ""
    code: int = 200
    detail: str = ""


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
    with :meth:`Sessions.save_session` (compare-and-set on ``last_seq``).
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


#: ``(seq, msg_id, method, created_at, raw)`` as :meth:`EventLog.scan` returns them.
RawRow = tuple[int, int, str, int, bytes]


class ColumnsPage(NamedTuple):
    """Up to ``limit`` messages after a seq as :meth:`EventLog.scan_columns` returns them, built
    by the database in one aggregate (no Python object per message; a bulk reader such as
    Arrow's JSON reader parses the bytes): how many, the seq of the last one (0 when none),
    ``columns``, one JSON object of four arrays in seq order
    ``{"seq":[…],"msg_id":[…],"method":[…],"created_at":[…]}`` (exact unsigned msg_ids), and
    ``rendered``, the messages' stored rendered JSON as stored, in the same order, separated by
    ``\\n``."""

    size: int
    last_seq: int
    columns: bytes
    rendered: bytes


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

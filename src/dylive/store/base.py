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
"""

from __future__ import annotations

import abc
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field


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
class StoredMessage:
    """One stored message as read back."""

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
    async def append(self, records: Sequence[Record]) -> int:
        """Store ``records`` (duplicates of ``(room_id, msg_id)`` ignored); number inserted."""

    @abc.abstractmethod
    async def read(
        self,
        room_id: int,
        after_seq: int,
        limit: int,
        methods: frozenset[str] | None = None,
    ) -> Page:
        """Up to ``limit`` messages of ``room_id`` with seq > ``after_seq`` (``methods`` filter)."""

    @abc.abstractmethod
    async def backlog_start(self, room_id: int, count: int) -> int:
        """The seq to read after so that the next read returns the ``count`` latest messages."""

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
        """Store a new token digest; its id."""

    @abc.abstractmethod
    async def token_by_digest(self, digest: str) -> TokenRecord | None:
        """The token whose digest is ``digest`` (revoked ones included)."""

    @abc.abstractmethod
    async def list_tokens(self) -> list[TokenRecord]:
        """Every token, oldest first."""

    @abc.abstractmethod
    async def revoke_token(self, ident: str) -> int:
        """Revoke the token(s) with this name or id; number revoked."""

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

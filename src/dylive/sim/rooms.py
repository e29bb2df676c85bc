"""A simulated room: broadcasts, the append-only emission log, the replay buffer, positions.

The log (one per web_rid, across broadcasts) is the ground truth: every message the room ever
emitted, in emission order, ``seq`` 1, 2, 3… Payload bytes are kept only for the replay buffer
(the last ``replay_seconds`` / ``replay_max`` messages); older entries keep their ids.
"""

from __future__ import annotations

import asyncio
import bisect
import gzip
import logging
import random
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from dylive.wire.frames import RawMessage, encode_response

from . import builders as b
from .era import Era, cursor_2026, mask_payload
from .faults import Faults
from .positions import cursor_msg_id, ext_position, make_cursor, push_ext
from .scenario import RoomSpec, Script

log = logging.getLogger(__name__)

LIVE, ENDED = 2, 4
GIFT = "WebcastGiftMessage"


def now_ms() -> int:
    return time.time_ns() // 1_000_000


class IdAllocator:
    """Douyin-like 19-digit ids: ``unix_seconds << 32 | random``, strictly increasing."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self.last = 0

    def next(self, ms: int) -> int:
        candidate = ((ms // 1000) << 32) | self._rng.getrandbits(20)
        self.last = max(self.last + 1 + self._rng.getrandbits(8), candidate)
        return self.last


@dataclass(slots=True)
class LogEntry:
    seq: int
    method: str
    msg_id: int
    room_id: int
    created_at: int
    payload: bytes | None  # None once out of the replay buffer
    fact: tuple[Any, ...] | None = None  # Draft.fact: kept for the totals (ground truth)
    uid: int = 0  # the real user of the message (0 = none): ground truth behind masking
    copy_of: int = 0  # era double_gifts: msg_id of the gift message this one repeats
    masked: bytes | None = None  # the payload as a masked guest sees it (computed on demand)

    def as_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "method": self.method,
            "msg_id": self.msg_id,
            "room_id": self.room_id,
            "created_at": self.created_at,
        }

    def raw(self) -> RawMessage:
        return RawMessage(self.method, self.msg_id, self.payload or b"")

    def masked_view(self, web_rid: str, anchor_id: int) -> LogEntry:
        """This entry with the payload a masked guest gets (era ``mask_guests``)."""
        if not self.uid or self.payload is None:
            return self
        if self.masked is None:
            self.masked = mask_payload(self.method, self.payload, web_rid, anchor_id)
        return LogEntry(self.seq, self.method, self.msg_id, self.room_id, self.created_at,
                        self.masked)  # fmt: skip


@dataclass(slots=True)
class Broadcast:
    room_id: int
    start: int  # position before its first message
    started_ms: int
    end: int | None = None  # position after its last message, once ended


@dataclass(slots=True)
class SharedBatch:
    """One published push batch: encoded once, gzipped once, shared by matching subscribers."""

    start: int
    end: int
    entries: list[LogEntry]
    now: int
    heartbeat_duration: int
    head_msg_id: int | None = None  # era wire_2026: the cursor's h- part (None: 2021 cursor)
    _gz: bytes | None = None

    def gz(self) -> bytes:
        if self._gz is None:
            last = self.entries[-1]
            raw = push_response(
                self.entries,
                pos=self.end,
                last_msg_id=last.msg_id,
                room_id=last.room_id,
                now=self.now,
                heartbeat_duration=self.heartbeat_duration,
                head_msg_id=self.head_msg_id,
            )
            self._gz = gzip.compress(raw, compresslevel=6, mtime=0)
        return self._gz


def push_response(
    entries: list[LogEntry],
    *,
    pos: int,
    last_msg_id: int,
    room_id: int,
    now: int,
    heartbeat_duration: int,
    head_msg_id: int | None = None,
) -> bytes:
    """The Response of a push frame that leaves its reader at position ``pos``
    (``head_msg_id`` given: the 2026 cursor shape)."""
    cursor = (
        make_cursor(now, last_msg_id)
        if head_msg_id is None
        else cursor_2026(now, last_msg_id, head_msg_id)
    )
    return encode_response(
        [e.raw() for e in entries],
        cursor=cursor,
        internal_ext=push_ext(room_id, "0", now, pos, last_msg_id),
        fetch_interval=1000,
        now=now,
        heartbeat_duration=heartbeat_duration,
        need_ack=True,
    )


@dataclass(slots=True)
class ReplayPolicy:
    seconds: float = 600.0
    max_messages: int = 100_000
    heartbeat_duration: int = 15


class Room:
    """State of one web_rid: current broadcast, log, subscribers, faults, gift scores."""

    def __init__(
        self,
        spec: RoomSpec,
        *,
        seed: int,
        rate: float,
        faults: Faults,
        ids: IdAllocator,
        policy: ReplayPolicy,
    ) -> None:
        self.spec = spec
        self.web_rid = spec.web_rid
        self.seed = seed
        self.rate = rate
        self.faults = faults
        self.script = Script(spec, seed)
        self.anchor = self.script.anchor
        self._ids = ids
        self._policy = policy
        self.log: list[LogEntry] = []
        self._msg_ids: list[int] = []
        self.kept_from = 0
        self.broadcasts: list[Broadcast] = []
        self.shared: OrderedDict[int, SharedBatch] = OrderedDict()
        self.changed = asyncio.Event()
        self.conns: set[Any] = set()
        self.counts: dict[str, int] = {}
        self.fault_rng = random.Random(seed ^ 0xFA17)
        self.era = Era()

    # ------------------------------------------------------------ broadcasts

    @property
    def current(self) -> Broadcast:
        return self.broadcasts[-1]

    @property
    def room_id(self) -> int:
        return self.current.room_id

    @property
    def status(self) -> int:
        return LIVE if self.broadcasts and self.current.end is None else ENDED

    @property
    def head(self) -> int:
        return len(self.log)

    def broadcast_of(self, room_id: int) -> Broadcast | None:
        for bc in reversed(self.broadcasts):
            if bc.room_id == room_id:
                return bc
        return None

    def start(self, ms: int, room_id: int = 0) -> Broadcast:
        """A new broadcast with a NEW room_id (unless given): opening messages are logged."""
        if self.broadcasts and self.current.end is None:
            raise ValueError(f"room {self.web_rid} is already live")
        rid = room_id or self._ids.next(ms)
        self.broadcasts.append(Broadcast(rid, self.head, ms))
        self.script.new_broadcast()
        self.emit(self.script.opening(), ms)
        log.info("room %s: broadcast %s started", self.web_rid, rid)
        return self.current

    def add_ended(self, room_id: int, ms: int) -> None:
        """Record a past broadcast (a room that is not live at startup)."""
        self.broadcasts.append(Broadcast(room_id or self._ids.next(ms), self.head, ms, self.head))

    def end(self, ms: int) -> None:
        """ControlMessage action 3 goes out, then the room's status is 4."""
        if self.status != LIVE:
            raise ValueError(f"room {self.web_rid} is not live")
        self.emit(self.script.closing(), ms)
        self.current.end = self.head
        self._wake()
        log.info("room %s: broadcast %s ended", self.web_rid, self.room_id)

    # ------------------------------------------------------------ emission

    def tick(self, ms: int, dt: float) -> list[LogEntry]:
        if self.status != LIVE:
            return []
        drafts = self.script.tick(ms, dt, self.rate, self.faults.unknown_methods)
        return self.emit(drafts, ms)

    def emit(self, drafts: list[b.Draft], ms: int) -> list[LogEntry]:
        """Stamp, log and publish drafts (one push batch)."""
        if not drafts:
            return []
        if self.status != LIVE:
            raise ValueError(f"room {self.web_rid} is not live")
        rid = self.room_id
        era = self.era
        if era.double_gifts:
            drafts = _doubled(drafts)
        entries = []
        copied = 0
        for draft in drafts:
            msg_id = self._ids.next(ms)
            if era.wire_2026 and draft.method == "WebcastChatMessage" and draft.msg is not None:
                draft.msg.event_time = ms // 1000
            payload = b.stamp(draft, msg_id=msg_id, room_id=rid, now_ms=ms)
            uid = _uid_of(draft)
            entry = LogEntry(self.head + 1, draft.method, msg_id, rid, ms, payload, draft.fact, uid)
            if draft.copy:
                entry.copy_of = copied
            copied = msg_id
            self.log.append(entry)
            self._msg_ids.append(msg_id)
            self.counts[draft.method] = self.counts.get(draft.method, 0) + 1
            entries.append(entry)
        self._trim(ms)
        batch = SharedBatch(
            entries[0].seq - 1,
            entries[-1].seq,
            entries,
            ms,
            self._policy.heartbeat_duration,
            self.head_msg_id() if era.wire_2026 else None,
        )
        self.shared[batch.start] = batch
        while len(self.shared) > 32:
            self.shared.popitem(last=False)
        self._wake()
        return entries

    def _wake(self) -> None:
        self.changed.set()
        self.changed = asyncio.Event()

    def _trim(self, ms: int) -> None:
        oldest_ms = ms - int(self._policy.seconds * 1000)
        limit = self._policy.max_messages
        while self.kept_from < self.head and (
            self.head - self.kept_from > limit or self.log[self.kept_from].created_at < oldest_ms
        ):
            self.log[self.kept_from].payload = self.log[self.kept_from].masked = None
            self.kept_from += 1

    # ------------------------------------------------------------ positions

    def resolve(self, cursor: str, ext: str) -> int | None:
        """The position a client's cursor/internal_ext stands for (None: not one of ours)."""
        pos = ext_position(ext)
        if pos is not None:
            return pos
        msg_id = cursor_msg_id(cursor, self.era.wire_2026)
        if msg_id is None:
            return None
        if msg_id == 0:
            return 0
        return bisect.bisect_right(self._msg_ids, msg_id)

    def clamp(self, pos: int, bc: Broadcast) -> int:
        """Limit a position to the broadcast and the replay buffer (older → oldest kept)."""
        upper = self.head if bc.end is None else bc.end
        return min(max(pos, bc.start, self.kept_from), upper)

    def limit_of(self, bc: Broadcast) -> int:
        return self.head if bc.end is None else bc.end

    def entries(self, pos: int, limit: int, upto: int | None = None) -> list[LogEntry]:
        """Up to ``limit`` entries after position ``pos`` (and not past ``upto``)."""
        stop = min(self.head if upto is None else upto, pos + limit)
        return self.log[pos:stop]

    def last_msg_id(self, pos: int) -> int:
        return self.log[pos - 1].msg_id if pos > 0 else 0

    def head_msg_id(self, bc: Broadcast | None = None) -> int:
        """msg_id of the broadcast's first message (the 2026 cursor's h- part; 0 = none yet)."""
        start = (bc or self.current).start
        return self.log[start].msg_id if start < self.head else 0

    def cursor(self, now: int, pos: int, bc: Broadcast) -> str:
        """The cursor of position ``pos`` in this room's era's shape."""
        last = self.last_msg_id(pos)
        if self.era.wire_2026:
            return cursor_2026(now, last, self.head_msg_id(bc))
        return make_cursor(now, last)

    # ------------------------------------------------------------ views

    def info(self) -> dict[str, Any]:
        return {
            "web_rid": self.web_rid,
            "room_id": self.room_id,
            "room_ids": [bc.room_id for bc in self.broadcasts],
            "status": self.status,
            "live": self.status == LIVE,
            "rate": self.rate,
            "seed": self.seed,
            "emitted": self.head,
            "kept_from_seq": self.kept_from + 1,
            "connections": len(self.conns),
            "anchor": {
                "uid": self.anchor.id,
                "nickname": self.anchor.nickname,
                "unique_id": self.anchor.display_id,
                "sec_uid": self.anchor.sec_uid,
            },
            "faults": self.faults.as_dict(),
            "era": self.era.as_dict(),
            "counts": dict(self.counts),
        }


def _uid_of(draft: b.Draft) -> int:
    msg = draft.msg
    if msg is None or not hasattr(msg, "user") or not msg.HasField("user"):
        return 0
    uid: int = msg.user.id
    return uid


def _doubled(drafts: list[b.Draft]) -> list[b.Draft]:
    """Era ``double_gifts``: each gift send's last message (repeat_end 1) is followed by a copy;
    the first copy then says repeat_end 0, the second repeat_end 1 (docs/simulator.md)."""
    out: list[b.Draft] = []
    for draft in drafts:
        out.append(draft)
        msg = draft.msg
        if draft.method == GIFT and msg is not None and msg.repeat_end == 1 and not draft.copy:
            twin = type(msg)()
            twin.CopyFrom(msg)
            msg.repeat_end = 0
            out.append(b.Draft(draft.method, twin, copy=True))
    return out


@dataclass(slots=True)
class Registry:
    """All rooms by web_rid, and every room_id ever issued back to its room."""

    rooms: dict[str, Room] = field(default_factory=dict)
    by_room_id: dict[int, Room] = field(default_factory=dict)

    def add(self, room: Room) -> None:
        self.rooms[room.web_rid] = room
        self.index(room)

    def index(self, room: Room) -> None:
        for bc in room.broadcasts:
            self.by_room_id[bc.room_id] = room

    def get(self, web_rid: str) -> Room | None:
        return self.rooms.get(web_rid)

    def by_id(self, room_id: int) -> Room | None:
        return self.by_room_id.get(room_id)

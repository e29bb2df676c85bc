"""The simulator's state and operations, independent of HTTP: rooms, clocks, faults, inject.

Both the control plane (``/__sim/``) and the Python API (:class:`dylive.sim.SimServer`) call
these methods. Errors: ``LookupError`` → unknown room (404), ``ValueError`` → bad input (400),
``StateError`` → wrong room state, e.g. ending a room that is not live (409).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import zlib
from dataclasses import dataclass, field
from typing import Any

from . import builders as b
from .catalog import GIFTS_BY_ID
from .defences import GIFT, Defences, Guard
from .era import Era, webcast_uid
from .faults import Faults
from .push import PushHub, PushSettings
from .rooms import LIVE, IdAllocator, Registry, ReplayPolicy, Room, now_ms
from .scenario import RoomSpec, default_rooms
from .totals import totals
from .users import SimUser, random_sec_uid

log = logging.getLogger(__name__)


class StateError(Exception):
    """The room is not in a state that allows the operation (HTTP 409)."""


@dataclass(slots=True)
class SimConfig:
    """Everything the simulator can be told at startup (also ``dylive sim`` flags)."""

    host: str = "127.0.0.1"
    port: int = 0  # 0 = any free port (tests); the CLI defaults to 9000
    seed: int = 1
    rate: float = 5.0  # messages/s per live room
    tick: float = 0.25  # s between generation ticks (one push batch per tick)
    heartbeat_timeout: float = 30.0  # s without a client heartbeat before the socket is closed
    heartbeat_duration: int = 15  # Response.heartbeat_duration sent to clients
    ping_interval: float | None = 20.0  # WebSocket pings (None = off)
    ping_timeout: float | None = 20.0  # drop a socket whose pong is this late
    rooms: list[RoomSpec] | None = None  # None = the default scenario
    faults: Faults | dict[str, Any] | None = None  # applied to every room at startup
    replay_seconds: float = 600.0
    replay_max: int = 100_000
    backlog: int = 15  # im/fetch without position: last N messages (need_persist_msg_count)
    fetch_max: int = 50  # im/fetch: messages per response
    frame_max: int = 50  # push: messages per frame when catching up
    abogus: str = "off"  # off | format | full: a_bogus check on web/enter, im/fetch, ranklist
    verify_signature: bool = True  # push handshake signature check
    defences: Defences = field(default_factory=Defences)  # logins, hidden gifts, risk control
    # A broadcast starts with gifts already ranked (live a while, no messages for them): what
    # `dylive sim` does; off here so that rankings equal the logged gifts unless asked for.
    warm_ranking: bool = False
    #: the 2026 behaviours of every room at startup (``Era.named("2026")`` = ``--era 2026``);
    #: per room at run time via :meth:`Simulator.set_era`
    era: Era = field(default_factory=Era)


@dataclass(slots=True)
class Simulator:
    config: SimConfig
    registry: Registry = field(default_factory=Registry)
    hub: PushHub = field(init=False)
    ids: IdAllocator = field(init=False)
    default_faults: Faults = field(default_factory=Faults)
    default_era: Era = field(default_factory=Era)
    policy: ReplayPolicy = field(init=False)
    http_rng: random.Random = field(init=False)
    guard: Guard = field(init=False)
    _tasks: dict[str, asyncio.Task[None]] = field(default_factory=dict)
    _reaper: asyncio.Task[None] | None = None

    def __post_init__(self) -> None:
        cfg = self.config
        self.ids = IdAllocator(random.Random(cfg.seed))
        self.http_rng = random.Random(cfg.seed ^ 0x4774)
        settings = PushSettings(
            heartbeat_timeout=cfg.heartbeat_timeout,
            heartbeat_duration=cfg.heartbeat_duration,
            frame_max=cfg.frame_max,
            verify_signature=cfg.verify_signature,
        )
        self.guard = Guard(cfg.defences)
        self.hub = PushHub(self.registry, settings, cfg.seed, self.guard)
        faults = cfg.faults
        if isinstance(faults, dict):
            faults = Faults().merged(faults)
        self.default_faults = faults or Faults()
        self.default_era = cfg.era
        self.hub.default_era = cfg.era
        self.policy = ReplayPolicy(cfg.replay_seconds, cfg.replay_max, cfg.heartbeat_duration)

    # ------------------------------------------------------------ lifecycle

    def populate(self) -> None:
        specs = self.config.rooms if self.config.rooms is not None else default_rooms()
        for spec in specs:
            self._add(spec)

    def start_clocks(self) -> None:
        for room in self.registry.rooms.values():
            self._start_clock(room)
        self._reaper = asyncio.create_task(self.hub.reaper())

    async def stop_clocks(self) -> None:
        tasks = [*self._tasks.values(), *([self._reaper] if self._reaper else [])]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()

    def _start_clock(self, room: Room) -> None:
        if room.web_rid not in self._tasks:
            self._tasks[room.web_rid] = asyncio.create_task(self._clock(room))

    async def _clock(self, room: Room) -> None:
        tick = self.config.tick
        await asyncio.sleep(tick * (zlib.crc32(room.web_rid.encode()) % 1000) / 1000)
        while True:
            room.tick(now_ms(), tick)
            await asyncio.sleep(tick)

    def _add(self, spec: RoomSpec) -> Room:
        if spec.web_rid in self.registry.rooms:
            raise StateError(f"room {spec.web_rid} already exists")
        seed = (
            spec.seed
            if spec.seed is not None
            else self.config.seed * 1_000_003 + zlib.crc32(spec.web_rid.encode())
        )
        rate = self.config.rate if spec.rate is None else spec.rate
        room = Room(
            spec, seed=seed, rate=rate, faults=self.default_faults, ids=self.ids, policy=self.policy
        )
        room.script.warm = self.config.warm_ranking
        room.era = self.default_era
        ms = now_ms()
        if spec.live:
            room.start(ms, spec.room_id)
        else:
            room.add_ended(spec.room_id, ms)
        self.registry.add(room)
        return room

    # ------------------------------------------------------------ operations

    def room(self, web_rid: str) -> Room:
        room = self.registry.get(web_rid)
        if room is None:
            raise LookupError(f"room {web_rid} not found")
        return room

    def create_room(self, data: dict[str, Any]) -> Room:
        web_rid = data.get("web_rid")
        if not isinstance(web_rid, str) or not web_rid.isdigit() or len(web_rid) > 20:
            raise ValueError("web_rid must be a string of digits")
        rng = random.Random(zlib.crc32(web_rid.encode()))
        anchor_id = _int(data, "anchor_id", rng.randrange(10**10, 10**13))
        spec = RoomSpec(
            web_rid=web_rid,
            anchor_id=anchor_id,
            nickname=_str(data, "nickname", f"主播{web_rid[-4:]}"),
            display_id=_str(data, "display_id", f"anchor_{web_rid}"),
            sec_uid=_str(data, "sec_uid", random_sec_uid(rng)),
            room_id=_int(data, "room_id", 0),
            live=_bool(data, "live", True),
            rate=_num(data, "rate", self.config.rate),
            seed=_int(data, "seed", None),
            title=_str(data, "title", "直播中"),
            intro=_str(data, "intro", "欢迎来到直播间"),
            club_name=_str(data, "club_name", "粉丝团"),
        )
        room = self._add(spec)
        if "faults" in data:
            room.faults = room.faults.merged(data["faults"])
        if "era" in data:
            room.era = room.era.merged(data["era"])
        if self._reaper is not None:
            self._start_clock(room)
        return room

    def set_faults(self, web_rid: str, changes: dict[str, Any]) -> Faults:
        room = self.room(web_rid)
        room.faults = room.faults.merged(changes)
        return room.faults

    def set_faults_all(self, changes: dict[str, Any]) -> Faults:
        self.default_faults = self.default_faults.merged(changes)
        for room in self.registry.rooms.values():
            room.faults = room.faults.merged(changes)
        return self.default_faults

    def set_era(self, web_rid: str, changes: dict[str, Any]) -> Era:
        room = self.room(web_rid)
        room.era = room.era.merged(changes)
        return room.era

    def set_era_all(self, changes: dict[str, Any]) -> Era:
        self.default_era = self.default_era.merged(changes)
        self.hub.default_era = self.default_era
        for room in self.registry.rooms.values():
            room.era = room.era.merged(changes)
        return self.default_era

    def end(self, web_rid: str) -> Room:
        room = self.room(web_rid)
        if room.status != LIVE:
            raise StateError(f"room {web_rid} is not live")
        room.end(now_ms())
        return room

    def start(self, web_rid: str, room_id: int = 0) -> Room:
        room = self.room(web_rid)
        if room.status == LIVE:
            raise StateError(f"room {web_rid} is already live")
        if room_id and self.registry.by_id(room_id) is not None:
            raise ValueError(f"room_id {room_id} is already used")
        room.start(now_ms(), room_id)
        self.registry.index(room)
        return room

    def set_rate(self, web_rid: str, rate: Any) -> Room:
        room = self.room(web_rid)
        room.rate = _num({"rate": rate}, "rate", 0.0)
        return room

    def log_of(self, web_rid: str, since: int = 0) -> list[dict[str, Any]]:
        room = self.room(web_rid)
        out = [e.as_json() for e in room.log[max(0, since) :]]
        if self.config.defences.gifts_need_login:
            for entry in out:
                if entry["method"] == GIFT:
                    entry["hidden"] = True  # guests never see it; logged-in identities do
        masked = room.era.mask_guests
        for entry, e in zip(out, room.log[max(0, since) :], strict=False):
            if e.copy_of:
                entry["copy_of"] = e.copy_of
            if masked and e.uid:
                entry["uid"] = e.uid  # who really sent it; guests see id 111111 …
                if e.uid != room.anchor.id:
                    entry["webcast_uid"] = webcast_uid(room.web_rid, e.uid)  # … and this
        return out

    def totals_of(self, web_rid: str, since: int = 0) -> dict[str, Any]:
        """Ground-truth figures of every message emitted with seq >= ``since``."""
        room = self.room(web_rid)
        first = max(since, 1)
        return totals(room.log[first - 1 :], first)

    def inject(self, web_rid: str, data: dict[str, Any]) -> list[dict[str, Any]]:
        room = self.room(web_rid)
        if room.status != LIVE:
            raise StateError(f"room {web_rid} is not live")
        if not isinstance(data, dict) or not isinstance(data.get("method"), str):
            raise ValueError("inject needs a JSON object with a string 'method'")
        ms = now_ms()
        if data["method"] == "WebcastControlMessage" and _int(data, "action", 3) == 3:
            room.end(ms)
            return [room.log[-1].as_json()]
        drafts = inject_drafts(room, data, ms)
        return [e.as_json() for e in room.emit(drafts, ms)]

    def stats(self) -> dict[str, Any]:
        out = self.hub.snapshot()
        out["rooms"] = len(self.registry.rooms)
        out["live_rooms"] = sum(r.status == LIVE for r in self.registry.rooms.values())
        out["emitted"] = sum(r.head for r in self.registry.rooms.values())
        out.update(self.guard.snapshot())
        return out


def inject_drafts(room: Room, data: dict[str, Any], ms: int) -> list[b.Draft]:
    """Drafts for one scripted inject request (see the control plane docs)."""
    s = room.script
    method = data["method"]
    user = _inject_user(room, data.get("user"))
    if method == "WebcastChatMessage":
        return [s.chat(user, _str(data, "content", "你好"))]
    if method == "WebcastGiftMessage":
        gift = GIFTS_BY_ID.get(_int(data, "gift_id", 463))
        if gift is None:
            raise ValueError("unknown gift_id; see /webcast/gift/list/")
        count = _int(data, "count", 1)
        if not 1 <= count <= 1000:
            raise ValueError("count must be 1..1000")
        return s.gift_messages(user, gift, count, max(1, _int(data, "group_count", 1)), ms)
    simple = {
        "WebcastMemberMessage": lambda: s.member(user),
        "WebcastLikeMessage": lambda: s.like(user, max(1, _int(data, "count", 1))),
        "WebcastSocialMessage": lambda: (
            s.share(user) if _int(data, "action", 1) == 3 else s.follow(user)
        ),
        "WebcastFansclubMessage": lambda: s.fansclub(user, _int(data, "action", 2)),
        "WebcastEmojiChatMessage": lambda: s.emoji(user),
        "WebcastControlMessage": lambda: b.control(_int(data, "action", 1)),
    }
    if method in simple:
        return [simple[method]()]
    periodic = {
        "WebcastRoomUserSeqMessage": "seq",
        "WebcastRoomStatsMessage": "stats",
        "WebcastRoomRankMessage": "rank",
        "WebcastRoomIntroMessage": "intro",
        "WebcastUpdateFanTicketMessage": "fanticket",
    }
    if method in periodic:
        return s.periodic(periodic[method])
    if method == "WebcastRoomMessage":
        return [b.room_notice()]
    try:
        payload = bytes.fromhex(_str(data, "payload_hex", "")) or s.unknown().payload
    except ValueError:
        raise ValueError("payload_hex must be hex") from None
    return [b.Draft(method, None, payload=payload)]


def _inject_user(room: Room, spec: Any) -> SimUser:
    if spec is None:
        return room.script.rng.choice(room.script.pool)
    if not isinstance(spec, dict):
        raise ValueError("user must be a JSON object")
    uid = _int(spec, "id", 0) or room.script.rng.randrange(10**10, 10**15)
    known = room.script.c.users.get(uid)
    if known is not None and len(spec) == 1:
        return known
    rng = random.Random(uid)
    user = SimUser(
        id=uid,
        short_id=_int(spec, "short_id", uid % 10**9),
        nickname=_str(spec, "nickname", f"用户{uid}"),
        display_id=_str(spec, "display_id", str(uid % 10**10)),
        sec_uid=_str(spec, "sec_uid", random_sec_uid(rng)),
        avatar_uri=f"u{uid:x}",
        pay_level=_int(spec, "pay_level", 0),
        fans_level=_int(spec, "fans_level", 0),
        club_name=_str(spec, "club_name", ""),
        anchor_id=room.anchor.id if spec.get("club_name") else 0,
    )
    room.script.c.users[uid] = user
    return user


def _int(d: dict[str, Any], key: str, default: Any) -> Any:
    v = d.get(key, default)
    if v is default:
        return v
    if isinstance(v, bool) or not isinstance(v, int):
        if isinstance(v, str) and v.isdigit():
            return int(v)
        raise ValueError(f"{key} must be an integer")
    return v


def _num(d: dict[str, Any], key: str, default: float) -> float:
    v = d.get(key, default)
    if isinstance(v, bool) or not isinstance(v, int | float) or not 0 <= v <= 10_000:
        raise ValueError(f"{key} must be a number between 0 and 10000")
    return float(v)


def _str(d: dict[str, Any], key: str, default: str) -> str:
    v = d.get(key, default)
    if not isinstance(v, str):
        raise ValueError(f"{key} must be a string")
    return v


def _bool(d: dict[str, Any], key: str, default: bool) -> bool:
    v = d.get(key, default)
    if not isinstance(v, bool):
        raise ValueError(f"{key} must be true or false")
    return v

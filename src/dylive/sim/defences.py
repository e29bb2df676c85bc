"""Douyin's defences, simulated: logins, hidden gifts, risk control and request checks.

Everything here is off by default (``SimConfig.defences``); each switch is one ``dylive sim``
option, see docs/simulator.md.

Who is asking (:class:`Visitor`): a logged-in identity is keyed by its ``sessionid`` cookie (from
``POST /__sim/login``, valid for ``session_ttl`` seconds when that is set); a guest by its
``ttwid`` cookie, or by its client address when it has none. Risk control counts per key, so a
guest without cookies is counted per client.

Risk control (:class:`RiskControl`): within ``risk_window`` seconds, joining more than
``risk_rooms`` distinct rooms (push handshakes and im/fetch) or sending more than
``risk_requests`` page / web-enter / ranklist requests flags the key for ``risk_cooldown``
seconds; with ``risk_exits`` a logged-in cookie seen from a second client address is flagged at
once. While flagged, its push sockets carry only heartbeats and room statistics, its im/fetch
answers are empty 200s and its new handshakes are refused with ``DEVICE_BLOCKED``.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)

GIFT = "WebcastGiftMessage"
VERIFICATION_MODES = ("off", "cookieless", "always")

_B64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def new_ttwid() -> str:
    """``1%7C<43 chars>%7C<unix s>%7C<64 hex>`` (douyin-protocol.md §1)."""
    mid = "".join(secrets.choice(_B64URL) for _ in range(43))
    return f"1%7C{mid}%7C{int(time.time())}%7C{secrets.token_hex(32)}"


@dataclass(frozen=True, slots=True)
class Defences:
    """The simulator's switchable defences (all off by default)."""

    #: Guests get no WebcastGiftMessage (push and im/fetch); the log marks them ``hidden``.
    gifts_need_login: bool = False
    #: Seconds a cookie from POST /__sim/login stays logged in (0 = forever).
    session_ttl: float = 0.0
    #: Distinct rooms one identity may join within ``risk_window`` (0 = no limit).
    risk_rooms: int = 0
    #: Page / web-enter / ranklist requests one identity may send within ``risk_window`` (0 = any).
    risk_requests: int = 0
    risk_window: float = 60.0
    #: Seconds a flagged identity stays flagged.
    risk_cooldown: float = 60.0
    #: A logged-in cookie used from two client addresses is flagged at once.
    risk_exits: bool = False
    #: The push handshake must carry this ``webcast_sdk_version`` ("" = any).
    sdk_version: str = ""
    #: The push handshake must carry ``Origin`` and ``Referer`` headers.
    require_origin: bool = False
    #: Push servers handed out by im/fetch in ``push_server_v2`` as a comma-separated list
    #: (``self`` = this simulator); empty = only ``push_server`` with this simulator's URL.
    push_servers: tuple[str, ...] = ()
    #: im/fetch polls a guest may make per room; later ones answer an empty 200 (0 = no limit).
    guest_poll_limit: int = 0
    #: ``cookieless``: visitors without a ttwid get a verification page from the room page and
    #: web/enter; ``always``: every visitor does.
    verification: str = "off"
    #: Risk control also counts per client address (the exit), not only per cookie: a fresh
    #: ttwid per room no longer escapes ``risk_rooms`` / ``risk_requests`` (era 2026).
    risk_by_address: bool = False

    def __post_init__(self) -> None:
        if self.verification not in VERIFICATION_MODES:
            raise ValueError(f"verification must be one of {', '.join(VERIFICATION_MODES)}")
        for name in ("session_ttl", "risk_window", "risk_cooldown"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0")
        for name in ("risk_rooms", "risk_requests", "guest_poll_limit"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0")

    def as_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__slots__}


@dataclass(slots=True)
class Session:
    sid: str
    uid: int
    name: str
    expires: float  # monotonic; 0 = never

    def valid(self, now: float) -> bool:
        return not self.expires or now < self.expires

    def cookie(self, ttwid: str) -> str:
        return (
            f"sessionid={self.sid}; sessionid_ss={self.sid}; sid_tt={self.sid}; "
            f"uid_tt={secrets.token_hex(16)}; sid_guard={self.sid}%7C{int(time.time())}; "
            f"ttwid={ttwid}"
        )


@dataclass(frozen=True, slots=True)
class Visitor:
    """Who sent a request: the risk-control key, the client address, the login."""

    key: str
    addr: str
    sid: str = ""  # the session id when logged in

    @property
    def logged_in(self) -> bool:
        return bool(self.sid)


@dataclass(slots=True)
class _Track:
    rooms: dict[int, float] = field(default_factory=dict)
    requests: deque[float] = field(default_factory=deque)
    exits: dict[str, float] = field(default_factory=dict)
    polls: dict[int, int] = field(default_factory=dict)


class RiskControl:
    """Per-key counters over a sliding window, and the flags they raise."""

    def __init__(self, cfg: Defences, clock: Callable[[], float] = time.monotonic) -> None:
        self.cfg = cfg
        self.clock = clock
        self.flagged_until: dict[str, float] = {}
        self.flags: list[dict[str, Any]] = []
        self._tracks: dict[str, _Track] = {}

    def blocked(self, key: str) -> bool:
        until = self.flagged_until.get(key)
        if until is None:
            return False
        if self.clock() < until:
            return True
        del self.flagged_until[key]
        return False

    def flag(self, key: str, reason: str) -> None:
        if self.blocked(key):
            return
        self.flagged_until[key] = self.clock() + self.cfg.risk_cooldown
        self.flags.append({"key": _mask(key), "reason": reason, "at": time.time()})
        self._tracks.pop(key, None)
        log.info("sim risk control: %s flagged (%s)", _mask(key), reason)

    def _track(self, key: str) -> _Track:
        return self._tracks.setdefault(key, _Track())

    def keys(self, v: Visitor) -> tuple[str, ...]:
        """The keys risk control counts a visitor under: its own, and with ``risk_by_address``
        its client address as well."""
        addr = "a:" + v.addr
        if self.cfg.risk_by_address and v.addr and v.key != addr:
            return (v.key, addr)
        return (v.key,)

    def on_request(self, v: Visitor) -> None:
        """A page / web-enter / ranklist request."""
        self._exit(v)
        for key in self.keys(v):
            self._count_request(key)

    def _count_request(self, key: str) -> None:
        limit = self.cfg.risk_requests
        if not limit:
            return
        now, t = self.clock(), self._track(key)
        t.requests.append(now)
        while t.requests and now - t.requests[0] > self.cfg.risk_window:
            t.requests.popleft()
        if len(t.requests) > limit:
            self.flag(key, f"{len(t.requests)} requests in {self.cfg.risk_window:g} s")

    def on_join(self, v: Visitor, room_id: int) -> None:
        """A push handshake or an im/fetch for ``room_id``."""
        self._exit(v)
        for key in self.keys(v):
            self._count_join(key, room_id)

    def _count_join(self, key: str, room_id: int) -> None:
        limit = self.cfg.risk_rooms
        if not limit:
            return
        now, t = self.clock(), self._track(key)
        t.rooms[room_id] = now
        for rid, seen in list(t.rooms.items()):
            if now - seen > self.cfg.risk_window:
                del t.rooms[rid]
        if len(t.rooms) > limit:
            self.flag(key, f"{len(t.rooms)} rooms in {self.cfg.risk_window:g} s")

    def _exit(self, v: Visitor) -> None:
        if not (self.cfg.risk_exits and v.logged_in):
            return
        now, t = self.clock(), self._track(v.key)
        t.exits[v.addr] = now
        for addr, seen in list(t.exits.items()):
            if now - seen > max(self.cfg.risk_window, 1.0):
                del t.exits[addr]
        if len(t.exits) > 1:
            self.flag(v.key, f"one cookie from {len(t.exits)} addresses")

    def guest_poll_refused(self, v: Visitor, room_id: int) -> bool:
        """Count a guest's im/fetch for the room; True once past ``guest_poll_limit``."""
        limit = self.cfg.guest_poll_limit
        if not limit or v.logged_in:
            return False
        polls = self._track("poll:" + v.key).polls
        polls[room_id] = polls.get(room_id, 0) + 1
        return polls[room_id] > limit


class Guard:
    """The defences of one simulator: sessions, visitors, risk control, request checks."""

    def __init__(self, cfg: Defences, clock: Callable[[], float] = time.monotonic) -> None:
        self.cfg = cfg
        self.clock = clock
        self.sessions: dict[str, Session] = {}
        self.risk = RiskControl(cfg, clock)
        self._uid = 0

    # ------------------------------------------------------------ sessions

    def login(self, name: str = "") -> tuple[Session, str]:
        """A new logged-in identity and its Cookie header value."""
        self._uid += 1
        ttl = self.cfg.session_ttl
        session = Session(
            sid=secrets.token_hex(16),
            uid=4_000_000_000 + self._uid,
            name=name or f"user{self._uid}",
            expires=self.clock() + ttl if ttl else 0.0,
        )
        self.sessions[session.sid] = session

        return session, session.cookie(new_ttwid())

    def session(self, sid: str) -> Session | None:
        s = self.sessions.get(sid) if sid else None
        return s if s is not None and s.valid(self.clock()) else None

    def expire(self, sid: str) -> bool:
        s = self.sessions.get(sid)
        if s is None:
            return False
        s.expires = self.clock() - 1.0
        return True

    # ------------------------------------------------------------ visitors

    def visitor(self, cookies: Mapping[str, str], addr: str) -> Visitor:
        session = self.session(cookies.get("sessionid", ""))
        if session is not None:
            return Visitor("s:" + session.sid, addr, session.sid)
        ttwid = cookies.get("ttwid", "")
        return Visitor("t:" + ttwid if ttwid else "a:" + addr, addr)

    def gifts_visible(self, v: Visitor) -> bool:
        """Whether gift messages reach this visitor now (a session may expire meanwhile)."""
        return not self.cfg.gifts_need_login or self.session(v.sid) is not None

    def blocked(self, v: Visitor) -> bool:
        return any(self.risk.blocked(key) for key in self.risk.keys(v))

    def needs_verification(self, cookies: Mapping[str, str]) -> bool:
        mode = self.cfg.verification
        return mode == "always" or (mode == "cookieless" and not cookies.get("ttwid"))

    def handshake_refusal(self, v: Visitor, params: Mapping[str, str], headers: Any) -> str:
        """Why a push handshake is refused ("" = it is not)."""
        if self.blocked(v):
            return "risk control"
        want = self.cfg.sdk_version
        if want and params.get("webcast_sdk_version") != want:
            return f"webcast_sdk_version {params.get('webcast_sdk_version')!r} != {want}"
        if self.cfg.require_origin and not (headers.get("origin") and headers.get("referer")):
            return "no Origin/Referer"
        return ""

    def snapshot(self) -> dict[str, Any]:
        now = self.clock()
        return {
            "defences": self.cfg.as_dict(),
            "sessions": sum(s.valid(now) for s in self.sessions.values()),
            "flagged": sum(self.risk.blocked(k) for k in list(self.risk.flagged_until)),
            "flags": list(self.risk.flags),
        }


def _mask(key: str) -> str:
    kind, _, value = key.partition(":")
    return f"{kind}:{value[:6]}…" if len(value) > 6 else key


VERIFY_PAGE = (
    '<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8"><title>验证码中间页</title>'
    '</head><body><div id="captcha_container" data-type="verify">请完成下列验证后继续</div>'
    "<script>window.__verify_scene = 'live_web';</script></body></html>"
)

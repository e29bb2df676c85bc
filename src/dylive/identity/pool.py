"""The identity pool: which cookie (bound to its proxy and User-Agent) collects which room.

Identities live in the store (``dylive identities add|list|check|remove``); the pool reloads
them every ``reload_every`` seconds, so one added while the service runs is picked up.

- :meth:`IdentityPool.acquire` gives a room the healthy identity with the fewest rooms, never
  more than its ``max_rooms`` (default :attr:`PoolOptions.max_rooms`); identities cooling down
  or expired are skipped. With no stored identity at all, the service's own settings (cookie,
  User-Agent, proxy; a guest without a cookie) are the one identity, named ``default``. When
  every stored identity is busy or unhealthy, guests collect only if
  :attr:`PoolOptions.allow_guests` says so: otherwise the room waits and says why.
- Rooms that need users (:meth:`IdentityPool.need_users`: Douyin showed them masked users, which
  it does to guests) get a logged-in identity first when one is free: a logged-in cookie sees
  real users.
- :meth:`IdentityPool.cool_down` (a risk signal) puts an identity aside for
  ``cooldown × 2^(strikes-1)`` seconds, capped at ``cooldown_cap``; :meth:`expire` marks a
  cookie that is no longer logged in. Both are stored.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from dylive.source.credentials import Identity, cookie_pairs
from dylive.store import Identities, IdentityRecord

from .pacing import Pacer

log = logging.getLogger(__name__)

DEFAULT, GUEST = "default", "guest"
OK, COOLING, EXPIRED = "ok", "cooling", "expired"


@dataclass(frozen=True, slots=True)
class PoolOptions:
    max_rooms: int = 10  # rooms per identity unless the identity says otherwise
    cooldown: float = 120.0  # first cooldown, seconds
    cooldown_cap: float = 3600.0
    allow_guests: bool = False  # when every stored identity is busy or unhealthy
    reload_every: float = 30.0
    #: Pace the service's own identity too (when no identity is stored); off keeps a
    #: single-identity setup exactly as fast as before.
    pace_default: bool = False


@dataclass(frozen=True, slots=True)
class Lease:
    """One room's use of one identity."""

    name: str
    identity: Identity
    room: str
    guest: bool = False

    @property
    def exit(self) -> str:
        return self.identity.proxy or ""


def mask_cookie(cookie: str) -> str:
    """A cookie header for people and logs: names, and values cut to 4 characters."""
    pairs = cookie_pairs(cookie)
    return "; ".join(f"{k}={v[:4]}…" if len(v) > 4 else f"{k}=…" for k, v in pairs.items())


def logged_in_cookie(cookie: str) -> bool:
    pairs = cookie_pairs(cookie)
    return any(pairs.get(k) for k in ("sessionid", "sessionid_ss", "sid_tt"))


@dataclass(slots=True)
class _Entry:
    record: IdentityRecord
    rooms: set[str] = field(default_factory=set)


def _rank(entry: _Entry, users: bool) -> tuple[int, int]:
    """Lower is better: logged-in first for a room that needs users, then the fewest rooms."""
    guest = users and not logged_in_cookie(entry.record.cookie)
    return (int(guest), len(entry.rooms))


class IdentityPool:
    """Assignment, health and pacing of the stored identities (see the module docstring)."""

    def __init__(
        self,
        store: Identities | None,
        *,
        fallback: Identity,
        options: PoolOptions | None = None,
        pacer: Pacer | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.fallback = fallback
        self.options = options or PoolOptions()
        self.pacer = pacer or Pacer()
        self._clock = clock
        self._entries: dict[str, _Entry] = {}
        self._default_rooms: set[str] = set()
        self._need_users: set[str] = set()  # rooms whose users arrived masked
        self._loaded_at: float | None = None
        self.cooldowns = 0  # cool-downs ordered since start

    # ------------------------------------------------------------ loading

    async def refresh(self, *, force: bool = False) -> None:
        now = self._clock()
        due = self._loaded_at is None or now - self._loaded_at >= self.options.reload_every
        if self.store is None or not (force or due):
            return
        records = await self.store.identities()
        self._loaded_at = now
        fresh: dict[str, _Entry] = {}
        for rec in records:
            old = self._entries.get(rec.name)
            fresh[rec.name] = _Entry(rec, old.rooms if old else set())
        self._entries = fresh

    def add(self, record: IdentityRecord) -> None:
        """An identity known only in memory (tests, benchmarks without a store)."""
        self._entries[record.name] = _Entry(record)

    # ------------------------------------------------------------ assignment

    def healthy(self, rec: IdentityRecord) -> bool:
        if rec.state == EXPIRED:
            return False
        return rec.state != COOLING or rec.cooldown_until <= self._clock() * 1000

    def acquire(self, room: str, exclude: frozenset[str] = frozenset()) -> Lease | None:
        """An identity for ``room`` (None: every one is busy or unhealthy, and no guests)."""
        if not self._entries:
            self._default_rooms.add(room)
            return Lease(
                DEFAULT, self.fallback, room, guest=not logged_in_cookie(self.fallback.cookie)
            )
        best: _Entry | None = None
        users = room in self._need_users
        for entry in self._free(exclude):
            if best is None or _rank(entry, users) < _rank(best, users):
                best = entry
        if best is None:
            if self.options.allow_guests:
                return Lease(GUEST, replace(self.fallback, cookie=""), room, guest=True)
            return None
        best.rooms.add(room)
        rec = best.record
        ident = Identity(
            cookie=rec.cookie,
            user_agent=rec.user_agent or self.fallback.user_agent,
            proxy=rec.proxy or None,
        )
        return Lease(rec.name, ident, room)

    def _free(self, exclude: frozenset[str]) -> list[_Entry]:
        """Healthy identities with room to spare, not in ``exclude``."""
        out = []
        for entry in self._entries.values():
            rec = entry.record
            limit = rec.max_rooms or self.options.max_rooms
            if rec.name not in exclude and self.healthy(rec) and len(entry.rooms) < limit:
                out.append(entry)
        return out

    def need_users(self, room: str) -> None:
        """``room``'s users arrive masked: from now on it prefers a logged-in identity."""
        self._need_users.add(room)

    def needs_users(self, room: str) -> bool:
        return room in self._need_users

    def logged_in_free(self, exclude: frozenset[str] = frozenset()) -> bool:
        """Whether a healthy logged-in identity (not in ``exclude``) could take a room."""
        return any(logged_in_cookie(e.record.cookie) for e in self._free(exclude))

    def paces(self, lease: Lease) -> bool:
        """Whether the lease's requests go through the pacer."""
        return lease.name != DEFAULT or self.options.pace_default

    def release(self, lease: Lease) -> None:
        entry = self._entries.get(lease.name)
        if entry is not None:
            entry.rooms.discard(lease.room)
        self._default_rooms.discard(lease.room)

    # ------------------------------------------------------------ health

    async def cool_down(self, name: str, reason: str) -> float:
        """Put ``name`` aside (exponential, capped); the cooldown in seconds (0: not pooled)."""
        entry = self._entries.get(name)
        if entry is None:
            return 0.0
        rec = entry.record
        strikes = rec.strikes + 1
        seconds = float(min(self.options.cooldown_cap, self.options.cooldown * 2 ** (strikes - 1)))
        until = int((self._clock() + seconds) * 1000)
        await self._set(entry, COOLING, until, strikes, reason)
        self.cooldowns += 1
        log.warning("identity %s: cooling down for %.0f s (%s)", name, seconds, reason)
        return seconds

    async def expire(self, name: str, reason: str = "identity_expired") -> None:
        entry = self._entries.get(name)
        if entry is not None:
            await self._set(entry, EXPIRED, 0, entry.record.strikes, reason)
            log.warning("identity %s: cookie no longer logged in", name)

    async def _set(self, entry: _Entry, state: str, until: int, strikes: int, note: str) -> None:
        entry.record = replace(
            entry.record, state=state, cooldown_until=until, strikes=strikes, note=note
        )
        if self.store is not None:
            await self.store.set_identity_state(
                entry.record.name, state=state, cooldown_until=until, strikes=strikes, note=note
            )

    # ------------------------------------------------------------ views

    def snapshot(self) -> list[dict[str, Any]]:
        """Every identity with its rooms and health; cookies masked."""
        now_ms = self._clock() * 1000
        out = []
        for entry in self._entries.values():
            rec = entry.record
            cooling = rec.state == COOLING and rec.cooldown_until > now_ms
            out.append(
                {
                    "name": rec.name,
                    "cookie": mask_cookie(rec.cookie),
                    "proxy": rec.proxy,
                    "state": rec.state if rec.state != COOLING or cooling else OK,
                    "cooldown_seconds": max(0.0, (rec.cooldown_until - now_ms) / 1000)
                    if cooling
                    else 0.0,
                    "strikes": rec.strikes,
                    "rooms": len(entry.rooms),
                    "max_rooms": rec.max_rooms or self.options.max_rooms,
                    "requests": self.pacer.requests.get(rec.name, 0),
                    "note": rec.note,
                }
            )
        return out

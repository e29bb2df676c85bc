"""Rooms whose users arrive masked prefer a logged-in identity: the pool gives them one first,
and a room collected by an identity that is not logged in moves to one when it is free."""

from __future__ import annotations

from dataclasses import replace

from support.simkit import FAST, Run, collecting, compare, fast_backoff, wait_for

from dylive.decode import Event
from dylive.identity.pool import IdentityPool, PoolOptions
from dylive.identity.source import REASONS, GuardOptions, PooledRoom
from dylive.sim import DEFAULT_WEB_RID, SimConfig, SimServer
from dylive.source.credentials import Identity
from dylive.source.room import resolve_room
from dylive.store import IdentityRecord


def pool_with(*records: IdentityRecord) -> IdentityPool:
    pool = IdentityPool(None, fallback=Identity(user_agent="UA"), options=PoolOptions())
    for rec in records:
        pool.add(rec)
    return pool


def test_rooms_that_need_users_get_a_logged_in_identity_first() -> None:
    pool = pool_with(
        IdentityRecord("anon", "ttwid=t1"), IdentityRecord("login", "sessionid=s; ttwid=t2")
    )
    first = pool.acquire("r1")  # no preference: the fewest rooms, then the first
    assert first is not None and first.name == "anon"
    pool.release(first)
    pool.need_users("r1")
    assert pool.needs_users("r1") and not pool.needs_users("r2")
    got = pool.acquire("r1")
    assert got is not None and got.name == "login"
    assert pool.logged_in_free() and not pool.logged_in_free(frozenset({"login"}))
    assert "users_masked" in REASONS and "silent_socket" in REASONS


def masked(events: list[Event]) -> list[bool]:
    return [e.user.masked for e in events if getattr(e, "user", None) and e.user.uid]  # type: ignore[attr-defined]


async def test_masked_room_moves_to_a_logged_in_identity_and_loses_nothing() -> None:
    cfg = SimConfig(seed=12, rate=40.0, tick=0.05, heartbeat_timeout=5.0, ping_interval=None)
    async with SimServer(cfg) as server:
        server.set_era(DEFAULT_WEB_RID, mask_guests=True)
        # "anon" has a ttwid but no login; "login" is logged in but busy with another room.
        login = IdentityRecord("login", server.login("login"), max_rooms=1)
        pool = pool_with(IdentityRecord("anon", "ttwid=anon1"), login)
        busy = pool.acquire("elsewhere")
        assert busy is not None and busy.name == "anon"  # the fewest rooms: "anon" first …
        other = pool.acquire("elsewhere-2")
        assert other is not None and other.name == "login"  # … then "login", now full
        pool.release(busy)
        info = await resolve_room(DEFAULT_WEB_RID, upstream=server.base_url, signing="off")
        room = PooledRoom(
            pool, info, upstream=server.base_url, options=replace(FAST, signing="off"),
            guard=GuardOptions(check_every=0.2, wait_for_identity=0.2), backoff=fast_backoff,
        )  # fmt: skip
        run = Run()
        async with collecting(room, run):  # type: ignore[arg-type]
            assert await wait_for(lambda: "users_masked" in room.degraded(), 20.0), room.status()
            assert room.lease is not None and room.lease.name == "anon" and not room.rotations
            assert await wait_for(lambda: pool.needs_users(room.key), 5.0)
            pool.release(other)  # the logged-in identity is free now
            assert await wait_for(lambda: room.rotations, 20.0), room.status()
            assert await wait_for(lambda: room.lease is not None, 10.0)
            assert room.lease is not None and room.lease.name == "login"
            before = len(run.events)
            assert await wait_for(lambda: len(run.events) >= before + 60, 20.0)
            assert await wait_for(lambda: "users_masked" not in room.degraded(), 20.0)
            server.end(DEFAULT_WEB_RID)
            assert await wait_for(lambda: run.done, 20.0), room.status()
        log = server.log(DEFAULT_WEB_RID)
    assert room.rotations[0]["reason"] == "users_masked"
    states = {s["name"]: s["state"] for s in pool.snapshot()}
    assert states["anon"] == "ok"  # moved, not cooled down
    flags = masked(run.events)
    assert flags[0] is True and flags[-1] is False
    missing, dups = compare(log, run)
    assert missing == [] and dups == []

"""The identity pool: assignment, cooldowns, pacing; and a room moving between identities
against the simulator's risk control and expiring logins."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest
from support.simkit import FAST, Run, collecting, compare, fast_backoff, wait_for

from dylive.identity.pacing import Pacer, TokenBucket
from dylive.identity.pool import IdentityPool, PoolOptions, mask_cookie
from dylive.identity.source import GuardOptions, PooledRoom
from dylive.sim import DEFAULT_WEB_RID, SimConfig, SimServer
from dylive.sim.defences import Defences
from dylive.source.credentials import Identity
from dylive.source.gaps import GapEvent
from dylive.source.room import resolve_room
from dylive.store import IdentityRecord, SQLiteStore


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def pool_of(*names: str, clock: Any = None, **opts: Any) -> IdentityPool:
    pool = IdentityPool(
        None,
        fallback=Identity(user_agent="UA"),
        options=PoolOptions(**opts),
        clock=clock or Clock(),
    )
    for name in names:
        pool.add(IdentityRecord(name, f"sessionid={name}secret99; ttwid=t"))
    return pool


def test_rooms_spread_over_identities_within_their_limit() -> None:
    pool = pool_of("a", "b", max_rooms=2)
    leases = [pool.acquire(f"r{i}") for i in range(5)]
    assert [x.name if x else None for x in leases] == ["a", "b", "a", "b", None]
    assert leases[0] is not None and leases[0].identity.cookie.startswith("sessionid=a")
    pool.release(leases[0])
    again = pool.acquire("r9")
    assert again is not None and again.name == "a"


def test_guests_are_an_explicit_choice_and_the_default_identity() -> None:
    assert pool_of("a", max_rooms=1, allow_guests=True).acquire("x") is not None
    full = pool_of("a", max_rooms=1, allow_guests=True)
    full.acquire("r1")
    guest = full.acquire("r2")
    assert guest is not None and guest.guest and guest.identity.cookie == ""
    empty = pool_of()  # nothing stored: the service's own settings are the one identity
    lease = empty.acquire("r1")
    assert lease is not None and lease.name == "default" and lease.guest


async def test_cooldown_is_exponential_and_capped() -> None:
    clock = Clock()
    pool = pool_of("a", clock=clock, cooldown=10.0, cooldown_cap=25.0)
    assert await pool.cool_down("a", "refused") == 10.0
    assert pool.acquire("r") is None
    clock.now += 10.5
    assert pool.acquire("r") is not None
    assert await pool.cool_down("a", "refused") == 20.0
    assert await pool.cool_down("a", "refused") == 25.0  # capped
    (snap,) = pool.snapshot()
    assert snap["state"] == "cooling" and snap["strikes"] == 3 and snap["note"] == "refused"
    assert "secret99" not in snap["cookie"] and snap["cookie"] == "sessionid=asec…; ttwid=…"
    await pool.expire("a")
    clock.now += 1000
    assert pool.acquire("r2") is None  # expired stays out until re-added


def test_mask_cookie_never_shows_values() -> None:
    masked = mask_cookie("sessionid=abcdef123456; ttwid=1%7Cxyz; a=b")
    assert masked == "sessionid=abcd…; ttwid=1%7C…; a=…"


def test_token_bucket_delays_by_rate() -> None:
    clock = Clock()
    bucket = TokenBucket(2.0, burst=2, jitter=0.0, clock=clock)
    assert bucket.delay() == 0.0
    bucket._tokens = 0.0  # two requests just went out
    assert bucket.delay() == pytest.approx(0.5)
    clock.now += 0.25
    assert bucket.delay() == pytest.approx(0.25)
    assert TokenBucket(0).delay() == 0.0


async def test_pacer_counts_and_hooks_requests() -> None:
    pacer = Pacer(rate=0, exit_rate=0)
    async with httpx.AsyncClient(
        transport=httpx.MockTransport(lambda r: httpx.Response(200)),
        event_hooks={"request": [pacer.hook("alice", "")]},
    ) as http:
        for _ in range(3):
            await http.get("http://x/")
    assert pacer.requests == {"alice": 3}


async def test_pool_reads_the_store(tmp_path: Path) -> None:
    store = SQLiteStore(str(tmp_path / "p.db"))
    async with store:
        await store.save_identity(IdentityRecord("a", "sessionid=1", max_rooms=1))
        pool = IdentityPool(store, fallback=Identity())
        await pool.refresh()
        lease = pool.acquire("r1")
        assert lease is not None and lease.name == "a" and pool.acquire("r2") is None
        await pool.cool_down("a", "heartbeat_only")
        (rec,) = await store.identities()
        assert rec.state == "cooling" and rec.strikes == 1 and rec.note == "heartbeat_only"


# ---------------------------------------------------------------- against the simulator


def simulator(**defences: Any) -> SimServer:
    cfg = SimConfig(seed=11, rate=40.0, tick=0.05, heartbeat_timeout=5.0, ping_interval=None)
    cfg.defences = Defences(**defences)
    return SimServer(cfg)


async def pooled(server: SimServer, pool: IdentityPool) -> PooledRoom:
    info = await resolve_room(DEFAULT_WEB_RID, upstream=server.base_url, signing="off")
    return PooledRoom(
        pool, info, upstream=server.base_url, options=replace(FAST, signing="off"),
        guard=GuardOptions(check_every=0.2, wait_for_identity=0.2), backoff=fast_backoff,
    )  # fmt: skip


def logged_in_pool(server: SimServer, *names: str) -> tuple[IdentityPool, dict[str, str]]:
    pool = pool_of(cooldown=60.0)
    cookies = {}
    for name in names:
        cookies[name] = server.login(name)
        pool.add(IdentityRecord(name, cookies[name]))
    return pool, cookies


async def test_risk_cooldown_moves_the_room_and_loses_nothing() -> None:
    async with simulator(risk_exits=True, risk_cooldown=120.0) as server:
        pool, cookies = logged_in_pool(server, "a", "b")
        room, run = await pooled(server, pool), Run()
        async with collecting(room, run):  # type: ignore[arg-type]
            assert await wait_for(lambda: len(run.events) >= 50, 20.0)
            first = room.lease.name if room.lease else ""
            transport = httpx.AsyncHTTPTransport(local_address="127.0.0.2")
            async with httpx.AsyncClient(
                transport=transport, headers={"Cookie": cookies[first]}
            ) as http:  # the same cookie from a second exit: flagged at once
                await http.get(f"{server.base_url}/webcast/room/web/enter/?web_rid=1")
            assert await wait_for(lambda: room.rotations, 30.0), room.status()
            assert await wait_for(lambda: room.lease is not None and room.room is not None, 10.0)
            before = len(run.events)
            assert await wait_for(lambda: len(run.events) >= before + 50, 30.0), room.status()
            server.end(DEFAULT_WEB_RID)
            assert await wait_for(lambda: run.done, 20.0), room.status()
        log = server.log(DEFAULT_WEB_RID)
    (rotation,) = room.rotations
    assert rotation["identity"] == first and rotation["reason"] in ("heartbeat_only", "refused")
    missing, dups = compare(log, run)
    assert missing == [] and dups == []
    states = {s["name"]: s["state"] for s in pool.snapshot()}
    assert states[first] == "cooling" and pool.cooldowns == 1


async def test_expired_cookie_is_detected_and_the_room_rotates() -> None:
    async with simulator(gifts_need_login=True) as server:
        pool, cookies = logged_in_pool(server, "a", "b")
        room, run = await pooled(server, pool), Run()
        async with collecting(room, run):  # type: ignore[arg-type]
            assert await wait_for(lambda: room.lease is not None, 10.0)
            first = room.lease.name if room.lease else ""
            server.expire_login(cookies[first])
            assert await wait_for(lambda: room.rotations, 60.0), room.status()
            assert await wait_for(lambda: room.lease is not None, 10.0)
            second = room.lease.name if room.lease else ""
        assert room.rotations[0] == {**room.rotations[0], "identity": first}
        assert room.rotations[0]["reason"] == "identity_expired" and second != first
        states = {s["name"]: s["state"] for s in pool.snapshot()}
        assert states[first] == "expired"


async def test_no_identity_left_is_reported() -> None:
    async with simulator(risk_rooms=1, risk_cooldown=120.0) as server:
        pool, cookies = logged_in_pool(server, "a")
        room, run = await pooled(server, pool), Run()
        async with collecting(room, run):  # type: ignore[arg-type]
            assert await wait_for(lambda: len(run.events) >= 20, 20.0)
            other = server.rooms()[1]
            async with httpx.AsyncClient(headers={"Cookie": cookies["a"]}) as http:
                await http.get(  # a second room: one too many for this identity
                    f"{server.base_url}/webcast/im/fetch/", params={"room_id": other["room_id"]}
                )
            assert await wait_for(lambda: "no_identity" in room.degraded(), 30.0), room.status()
        assert room.status()["identity"] is None and room.rotations


def test_pool_settings_reach_the_service(monkeypatch: pytest.MonkeyPatch) -> None:
    from dylive.serve.app import ServiceConfig

    assert ServiceConfig.from_settings().pool == PoolOptions(max_rooms=10, allow_guests=False)
    monkeypatch.setenv("DYLIVE_IDENTITY_MAX_ROOMS", "3")
    monkeypatch.setenv("DYLIVE_ALLOW_GUESTS", "true")
    pool = ServiceConfig.from_settings().pool
    assert (pool.max_rooms, pool.allow_guests) == (3, True)


async def test_a_room_not_consumed_stops_reading_and_ends_cleanly(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """While its consumer takes nothing (ingestion waits: overload), a room holds at most
    ``PUMP_QUEUE`` events ahead of it and its collector stops reading; once consumed again it
    delivers everything and ends even when its pump finished with the queue full."""
    import dylive.identity.source as guard_source

    monkeypatch.setattr(guard_source, "PUMP_QUEUE", 8)
    async with simulator() as server:
        room = await pooled(server, pool_of())
        events = aiter(room)
        taken = [await anext(events)]  # the pump runs; nobody takes anything more for now
        # the simulator goes on (40 msg/s): wait until it has emitted far more than the bound
        assert await wait_for(lambda: len(server.log(DEFAULT_WEB_RID)) > 300, 30.0)
        held = room.room.status().messages if room.room is not None else 0
        # collected but not taken: the queue (8) and what the pump holds in hand (one frame)
        assert held - len(taken) <= 8 + 50, held
        server.end(DEFAULT_WEB_RID)
        async with asyncio.timeout(60):
            async for event in events:
                taken.append(event)
        log = server.log(DEFAULT_WEB_RID)
    run = Run(events=[e for e in taken if not isinstance(e, GapEvent)])
    missing, dups = compare(log, run)
    assert missing == [] and dups == [] and len(run.events) > 300


async def test_the_handoff_is_bounded_by_the_events_of_its_batches() -> None:
    from dylive.identity.source import CHECK, STOP, Handoff

    queue = Handoff(4)
    one, two, big = (["a", "b"], None), (["c", "d", "e"], None), (list("0123456789"), None)
    assert queue.put_nowait(one) and not queue.put_nowait(two)  # 5 events would pass 4
    assert queue.put_nowait(CHECK) and len(queue) == 2  # the marks always go in
    put = asyncio.create_task(queue.put(two))
    await asyncio.sleep(0)
    assert not put.done()
    assert queue.get_nowait() is one  # 0 events held: the waiting batch fits now
    assert await wait_for(put.done, 5.0)
    assert queue.get_nowait() is CHECK and await queue.get() is two
    assert queue.get_nowait() is None
    assert queue.put_nowait(big)  # alone, whatever its size
    assert queue.put_nowait(STOP) and not queue.put_nowait(one)
    assert [queue.get_nowait(), queue.get_nowait()] == [big, STOP]

"""Room lookup: concurrent first requests for a room share one upstream resolution (against
the simulator), and a collected room is found by web_rid and by room_id without resolving."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

from dylive.collect.rooms import RoomManager, collector_source, default_resolver
from dylive.sim import DEFAULT_ROOM_ID, DEFAULT_WEB_RID, SimConfig, SimServer
from dylive.source.room import RoomInfo
from dylive.store import SQLiteStore


async def test_concurrent_lookups_resolve_once(tmp_path: Path) -> None:
    async with (
        SimServer(SimConfig(seed=3, rate=5.0)) as sim,
        SQLiteStore(tmp_path / "r.db") as store,
    ):
        real = default_resolver(upstream=sim.base_url, signing="off")
        calls: list[str] = []

        async def resolver(ident: str) -> RoomInfo:
            calls.append(ident)
            return await real(ident)

        rooms = RoomManager(
            store,
            resolver=resolver,
            source_factory=collector_source(upstream=sim.base_url),
            idle_timeout=60,
        )
        results = await asyncio.gather(*(rooms.lookup(DEFAULT_WEB_RID) for _ in range(20)))
        assert calls == [DEFAULT_WEB_RID]
        assert {(info.room_id, live) for info, live in results} == {(DEFAULT_ROOM_ID, True)}
        await rooms.start([DEFAULT_WEB_RID])  # pinned: collected
        try:
            for ident in (DEFAULT_WEB_RID, str(DEFAULT_ROOM_ID)):
                info, live = await rooms.lookup(ident)
                assert (info.room_id, live) == (DEFAULT_ROOM_ID, True)
            assert len(calls) == 1  # the collected room answers, no resolution
        finally:
            await rooms.stop()
        assert rooms._web_rids == {}


async def test_pins_resolve_concurrently_at_start(tmp_path: Path) -> None:
    """Hundreds of pinned rooms must not start one upstream round trip after another."""
    web_rids = [f"70000000000{i}" for i in range(4)]
    async with (
        SimServer(SimConfig(seed=3, rate=1.0)) as sim,
        SQLiteStore(tmp_path / "r.db") as store,
    ):
        for web_rid in web_rids:
            sim.create_room(web_rid)
        real = default_resolver(upstream=sim.base_url, signing="off")
        inflight: list[int] = [0, 0]  # now, most at once
        both = asyncio.Event()

        async def resolver(ident: str) -> RoomInfo:
            inflight[0] += 1
            inflight[1] = max(inflight)
            if inflight[0] >= 2:
                both.set()
            # hold this resolution until another one runs beside it (or 10 s pass)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(both.wait(), 10.0)
            try:
                return await real(ident)
            finally:
                inflight[0] -= 1

        rooms = RoomManager(
            store,
            resolver=resolver,
            source_factory=collector_source(upstream=sim.base_url),
            idle_timeout=60,
        )
        await rooms.start(web_rids)
        try:
            assert inflight[1] >= 2
            assert {s.info.web_rid for s in rooms.rooms.values()} == set(web_rids)
            assert all(s.pinned for s in rooms.rooms.values())
        finally:
            await rooms.stop()

"""Overload is visible and heals: ``/healthz`` degraded with ``overloaded``, the metrics, the rooms.

While the store cannot keep up the global pending bound binds (``ServiceConfig.pending_limit``,
here a ``Budget`` of 60 messages): reading upstream pauses and the service says so; once the
store keeps up again it clears by itself and the stored messages are the simulator's log,
exactly (upstream replayed what was left unread meanwhile).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import orjson
from support.overload import HeldStore, assert_exact, stored_ids
from support.waiting import until

from dylive.collect import Budget, Tuning
from dylive.serve import tokens
from dylive.serve.app import ServiceConfig
from dylive.sim import DEFAULT_ROOM_ID, DEFAULT_WEB_RID, SimConfig, SimServer


def metric(text: str, name: str) -> float:
    found = re.search(rf"^{name} (\S+)$", text, re.MULTILINE)
    assert found, f"{name} not exported"
    return float(found.group(1))


async def test_overload_shows_in_healthz_metrics_and_rooms_and_clears_without_loss(
    tmp_path: Path, serve_api: Any
) -> None:
    limit = 60
    async with SimServer(SimConfig(seed=240, rate=80.0, tick=0.05)) as sim:
        store = HeldStore(tmp_path / "v.sqlite3")
        config = ServiceConfig(
            upstream=sim.base_url,
            signing="off",
            pins=[DEFAULT_WEB_RID],
            ranklist=False,
            store=store,
            ingest=Tuning(batch_size=20, budget=Budget(limit, hold=0.3)),
        )
        async with serve_api(config) as (base, svc), httpx.AsyncClient(base_url=base) as client:
            token = await tokens.create(svc.store, "ops")

            async def get(path: str) -> dict[str, Any]:
                body: dict[str, Any] = orjson.loads((await client.get(path)).content)
                assert body["code"] == 200, body
                return body["data"]  # type: ignore[no-any-return]

            async def health() -> dict[str, Any]:
                return await get("/healthz")

            state = svc.rooms.rooms[DEFAULT_ROOM_ID]
            await until(lambda: state.stored > 20, 60, what="collecting")
            assert (await health())["status"] == "ok"
            store.open_gate.clear()  # the store stops keeping up

            async def overloaded() -> dict[str, Any] | None:
                got = await health()
                reasons = [r for r in got["reasons"] if r.startswith("overloaded: ")]
                return got if got["status"] == "degraded" and reasons else None

            await until(overloaded, 60, what="/healthz degraded: overloaded")
            emitted = len(sim.log(DEFAULT_WEB_RID))
            await until(
                lambda: len(sim.log(DEFAULT_WEB_RID)) > emitted + 2 * limit, 60, what="emitting"
            )
            text = (await client.get("/metrics")).text
            assert metric(text, "dylive_overloaded") == 1.0
            assert metric(text, "dylive_rooms_reading_paused") == 1.0
            assert metric(text, "dylive_ingest_pending_limit") == limit
            assert 0 < metric(text, "dylive_ingest_pending") <= limit
            assert metric(text, "dylive_overload_waits_total") >= 1.0
            listed = await get(f"/api/rooms?token={token}")
            assert listed["overload"]["overloaded"] and listed["overload"]["waiting"] == 1
            assert listed["overload"]["pending"] <= limit
            [room] = listed["rooms"]
            assert room["overloaded"] is True and 0 < room["pending"] <= limit
            one = await get(f"/api/rooms/{DEFAULT_WEB_RID}?token={token}")
            assert one["overloaded"] is True

            store.open_gate.set()  # the load drops
            mark = int(sim.log(DEFAULT_WEB_RID)[-1]["msg_id"])

            async def caught_up() -> bool:
                return mark in await stored_ids(store, DEFAULT_ROOM_ID)

            await until(caught_up, 60, what="caught up after the overload")
            await until(
                lambda: health_ok(client), 30, what="/healthz ok again once the bound is free"
            )
            text = (await client.get("/metrics")).text
            assert metric(text, "dylive_overloaded") == 0.0
            assert metric(text, "dylive_rooms_reading_paused") == 0.0
            one = await get(f"/api/rooms/{DEFAULT_WEB_RID}?token={token}")
            assert one["overloaded"] is False
            stored = await stored_ids(store, DEFAULT_ROOM_ID)
            log = sim.log(DEFAULT_WEB_RID)
    assert_exact(log, stored)


async def health_ok(client: httpx.AsyncClient) -> bool:
    data = orjson.loads((await client.get("/healthz")).content)["data"]
    return bool(data["status"] == "ok")

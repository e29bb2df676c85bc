"""A followed room's watching is leased like its collection (issue #20).

Two in-process fleet nodes on one PostgreSQL database: a pinned room's broadcast ends, the node
holding its lease watches it (``waiting`` in every node's listing, web_rid and title included);
that node leaves while the room waits (a takeover of the watching); the other node claims the
lease and watches on; the next broadcast is then collected by the fleet, every message of it
stored exactly once (the simulator's log is the ground truth).
"""

from __future__ import annotations

import contextlib
from typing import Any

import httpx
import pytest
from support.service import serving
from support.waiting import until

from dylive.app import ServiceConfig
from dylive.serve import tokens
from dylive.sim import SimConfig, SimServer

pytestmark = [pytest.mark.postgres, pytest.mark.fleet, pytest.mark.timeout(120)]

WEB_RID = "700100200302"


def config(db: str, upstream: str, node: str) -> ServiceConfig:
    return ServiceConfig(
        db=db,
        upstream=upstream,
        fleet=True,
        node_id=node,
        fleet_tick=0.2,
        lease_ttl=3.0,
        follow_interval=1.0,
        ranklist=False,
    )


async def stored(svc: Any, room_id: int) -> list[int]:
    return [m.msg_id for m in (await svc.store.read(room_id, 0, 100_000)).messages]


def truth(sim: SimServer, room_id: int) -> list[int]:
    return [int(e["msg_id"]) for e in sim.log(WEB_RID) if int(e["room_id"]) == room_id]


def waiting_here(svc: Any) -> bool:
    return any(f.state == "waiting" and f.waiting for f in svc.rooms.follows.rooms.values())


async def listed(base: str, token: str) -> list[dict[str, Any]]:
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        resp = await client.get("/api/rooms", params={"token": token})
        assert resp.status_code == 200, resp.text
        rooms: list[dict[str, Any]] = resp.json()["data"]["rooms"]
        return rooms


async def test_watching_moves_with_a_takeover_while_waiting(fleet_db: str) -> None:
    async with SimServer(SimConfig(seed=24, rate=20.0, tick=0.05)) as sim:
        sim.create_room(WEB_RID, rate=20.0, title="接力")
        nodes: dict[str, tuple[str, Any, contextlib.AsyncExitStack]] = {}
        try:
            for name in ("a", "b"):
                stack = contextlib.AsyncExitStack()
                base, svc = await stack.enter_async_context(
                    serving(config(fleet_db, sim.base_url, name))
                )
                nodes[name] = (base, svc, stack)
            base_a, svc_a, _ = nodes["a"]
            token = await tokens.create(svc_a.store, "fleet-follow")
            async with httpx.AsyncClient(base_url=base_a, timeout=30) as client:
                resp = await client.post(f"/api/rooms/{WEB_RID}/pin", params={"token": token})
                assert resp.status_code == 200, resp.text
            first = sim.room_id(WEB_RID)

            async def some() -> bool:
                return len(await stored(svc_a, first)) >= 20

            await until(some, 60, "the first broadcast stored")
            sim.end(WEB_RID)

            async def complete() -> bool:
                got = await stored(svc_a, first)
                log = truth(sim, first)
                return bool(got) and got == log[log.index(got[0]) :]

            await until(complete, 30, "the first broadcast stored completely")
            owner = await until(
                lambda: next((n for n, (_, s, _) in nodes.items() if waiting_here(s)), None),
                30,
                "a node watching the room",
            )
            other = "b" if owner == "a" else "a"

            async def shown_waiting() -> dict[str, Any] | None:
                rows = await listed(nodes[other][0], token)
                row = next((r for r in rows if r["room_id"] == first), None)
                return row if row is not None and row.get("state") == "waiting" else None

            row = await until(shown_waiting, 30, "the other node listing the room as waiting")
            assert row["web_rid"] == WEB_RID and row["title"] == "接力" and row["anchor"], row
            assert row["node"] == owner and row["collecting"] is False, row

            # the watching node leaves while the room waits: the other one takes the lease over
            await nodes.pop(owner)[2].aclose()
            _, svc_other, _ = nodes[other]
            await until(lambda: waiting_here(svc_other), 30, "the watching taken over")
            assert svc_other.fleet.takeovers >= 1

            sim.start(WEB_RID)
            second = sim.room_id(WEB_RID)

            async def collected() -> bool:
                got = await stored(svc_other, second)
                return len(got) >= 20 and got == truth(sim, second)[: len(got)]

            await until(collected, 45, "the next broadcast collected by the fleet")
            sim.end(WEB_RID)

            async def whole() -> bool:
                return await stored(svc_other, second) == truth(sim, second)

            await until(whole, 30, "every message of the next broadcast stored once")
        finally:
            for _, _, stack in nodes.values():
                await stack.aclose()

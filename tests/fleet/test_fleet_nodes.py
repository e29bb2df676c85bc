"""Three (or two) real `dylive serve` nodes on one PostgreSQL database against the simulator.

Every test checks the stored messages of every room against the simulator's ground-truth log:
from the first stored message of a room to its last, nothing missing, nothing twice.
"""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path
from typing import Any

import pytest
from support.fleetkit import (
    Env,
    fleet,
    loss_report,
    owners,
    pin_all,
    spread_over,
    stored_msg_ids,
    storing,
    until,
)

pytestmark = [pytest.mark.postgres, pytest.mark.fleet, pytest.mark.timeout(90)]

TAKEOVER_LIMIT = 15.0  # seconds from a node's death to its rooms collecting elsewhere


def assert_exact(env: Env) -> int:
    """0 lost / 0 duplicated in every room; the number of stored messages checked."""
    total = 0
    for web_rid in env.live_rooms():
        stored = stored_msg_ids(env.db, env.sim.room_id(web_rid))
        truth = [e["msg_id"] for e in env.sim.log(web_rid)]
        lost, dup = loss_report(stored, truth)
        assert (lost, dup) == (0, 0), f"room {web_rid}: {lost} lost, {dup} duplicated"
        total += len(stored)
    return total


@pytest.mark.rooms(10)
async def test_sigkill_of_the_busiest_node_moves_its_rooms(env: Env, tmp_path: Path) -> None:
    async with fleet(env.db, env.sim.base_url, tmp_path, 3) as nodes:
        await pin_all(nodes[0], env)
        placed = await spread_over(nodes[1], env, nodes)
        victim_id = max(placed, key=lambda k: len(placed[k]))
        victim = next(n for n in nodes if n.node_id == victim_id)
        survivor = next(n for n in nodes if n.node_id != victim_id)
        moved = placed[victim_id]
        counts = {r: len(stored_msg_ids(env.db, r)) for r in moved}
        await until(lambda: storing(env, moved, counts), 30, "the victim's rooms storing")
        victim.signal(signal.SIGKILL)
        killed = time.monotonic()

        async def taken_over() -> bool:
            got = await owners(survivor, env)
            return all(any(r in v for k, v in got.items() if k != victim_id) for r in moved)

        await until(taken_over, 40, "the dead node's rooms collecting on the others", 0.1)
        took = time.monotonic() - killed
        assert took <= TAKEOVER_LIMIT, f"takeover took {took:.1f} s"
        counts = {r: len(stored_msg_ids(env.db, r)) for r in moved}
        await until(lambda: storing(env, moved, counts), 30, "the moved rooms storing again")
        fleet_view = await survivor.get("/api/fleet", env.token)
        assert sum(n["node_id"] != victim_id and n["alive"] for n in fleet_view["nodes"]) == 2
    assert assert_exact(env) > 100


async def test_a_paused_node_is_fenced_and_stops(env: Env, tmp_path: Path) -> None:
    async with fleet(env.db, env.sim.base_url, tmp_path, 2) as nodes:
        await pin_all(nodes[0], env)
        placed = await spread_over(nodes[0], env, nodes)
        paused, other = nodes
        rooms = placed[paused.node_id]
        paused.signal(signal.SIGSTOP)

        async def taken() -> bool:
            got = await owners(other, env)
            return set(rooms) <= set(got.get(other.node_id, []))

        await until(taken, 40, "the paused node's rooms taken over")
        counts = {r: len(stored_msg_ids(env.db, r)) for r in rooms}
        await until(lambda: storing(env, rooms, counts), 30, "the new owner storing")
        paused.signal(signal.SIGCONT)

        async def stopped() -> dict[str, Any] | None:
            this = (await paused.get("/api/fleet", env.token))["this"]
            return this if this["leases_lost"] >= len(rooms) else None

        # it stops every room it lost (it may be handed some rooms back later: a fair share)
        await until(stopped, 30, "the woken node to give up its rooms")
        # whatever it had buffered while paused was refused, and nothing it sends lands
        counts = {r: len(stored_msg_ids(env.db, r)) for r in rooms}
        await until(lambda: storing(env, rooms, counts), 30, "the new owner still storing")
    assert assert_exact(env) > 50


async def test_sigterm_hands_rooms_off(env: Env, tmp_path: Path) -> None:
    async with fleet(env.db, env.sim.base_url, tmp_path, 2) as nodes:
        await pin_all(nodes[0], env)
        placed = await spread_over(nodes[1], env, nodes)
        leaving, staying = nodes
        rooms = placed[leaving.node_id]
        counts = {r: len(stored_msg_ids(env.db, r)) for r in rooms}
        await until(lambda: storing(env, rooms, counts), 30, "the leaving node's rooms storing")
        leaving.signal(signal.SIGTERM)
        # uvicorn re-raises the signal after its graceful shutdown
        assert await asyncio.wait_for(leaving.proc.wait(), 30) in (0, -signal.SIGTERM)
        assert "handed off" in leaving.log.read_text()

        async def all_on_staying() -> bool:
            got = await owners(staying, env)
            return set(got) == {staying.node_id} and len(got[staying.node_id]) == len(
                env.live_rooms()
            )

        await until(all_on_staying, 20, "every room on the remaining node")
        this = (await staying.get("/api/fleet", env.token))["this"]
        assert this["takeovers"] >= len(rooms)
        counts = {r: len(stored_msg_ids(env.db, r)) for r in rooms}
        await until(lambda: storing(env, rooms, counts), 30, "the handed-off rooms storing")
    assert assert_exact(env) > 50


@pytest.mark.rooms(1)
async def test_long_poll_on_a_node_that_does_not_collect_wakes(env: Env, tmp_path: Path) -> None:
    """A long-poll waiting on a node that does not collect the room is answered with the new
    message, woken by the owner's NOTIFY: the nodes' fallback re-check (used only while their
    listener is down) is set to an hour, and the node counts how each wait ended — woken, or
    run out. (Wake-up latency: bench/fleet.py.)"""
    (web_rid,) = env.live_rooms()
    env.sim.set_rate(web_rid, 0)  # only injected chat messages from now on
    no_fallback = {"DYLIVE_PG_POLL_INTERVAL": "3600"}
    async with fleet(env.db, env.sim.base_url, tmp_path, 2, env=no_fallback) as nodes:
        await pin_all(nodes[0], env)
        placed = await until(lambda: owners(nodes[0], env), 30, "the room collected")
        (owner_id,) = placed
        reader = next(n for n in nodes if n.node_id != owner_id)
        params = {"room_id": web_rid, "methods": "chat", "count": 50}
        cursor = (await reader.get("/douyin/liveroom/chat", env.token, **params))["cursor"]

        async def this() -> dict[str, int]:
            return dict((await reader.get("/api/fleet", env.token))["this"])

        async def waiting() -> bool:
            return (await this())["waiting_polls"] >= 1

        for i in range(3):
            poll = asyncio.create_task(
                reader.get("/douyin/liveroom/chat", env.token, cursor=cursor, wait=25, **params)
            )
            await until(waiting, 20, "the long-poll waiting on the reader node", 0.05)
            before = await this()
            env.sim.sim.inject(web_rid, {"method": "WebcastChatMessage", "content": f"m{i}"})
            data = await poll
            assert [m["payload"]["content"] for m in data["messages"]] == [f"m{i}"]
            after = await this()
            assert after["polls_woken"] > before["polls_woken"]  # a wake-up ended the wait
            assert after["poll_timeouts"] == before["poll_timeouts"]  # not its running out
            cursor = data["cursor"]

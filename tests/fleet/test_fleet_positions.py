"""Cursor-less pollers of one token on two fleet nodes share the stream (issue 22, item 2).

Reproduction: pollers on two `dylive serve` nodes sharing one token, reading without a cursor,
each got every message (3,224 received, 1,612 distinct): each node serialized its own pollers
only. The stored read position now moves by compare-and-set; together the pollers (including
one that alternates between the nodes) receive every message exactly once.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import orjson
import pytest
from support.fleetkit import Env, Node, fleet, pin_all, stored_msg_ids, until

pytestmark = [pytest.mark.postgres, pytest.mark.fleet, pytest.mark.timeout(120)]

WANTED = 200  # messages the pollers receive together before they stop


async def poll(nodes: list[Node], env: Env, got: list[int], stop: asyncio.Event) -> None:
    """Poll without a cursor, cycling through ``nodes`` (one node: always the same)."""
    web_rid = env.live_rooms()[0]
    i = 0
    while not stop.is_set():
        node = nodes[i % len(nodes)]
        i += 1
        params = {"token": env.token, "room_id": web_rid, "count": 7, "wait": 1, "methods": "all"}
        resp = await node.client.get("/douyin/liveroom/chat", params=params)
        assert resp.status_code == 200, (node.node_id, resp.text)
        got += [int(m["msg_id"]) for m in orjson.loads(resp.content)["data"]["messages"]]


@pytest.mark.rooms(1)
async def test_pollers_on_two_nodes_get_each_message_once(env: Env, tmp_path: Path) -> None:
    web_rid = env.live_rooms()[0]
    room_id = env.sim.room_id(web_rid)
    env.sim.set_rate(web_rid, 40.0)
    async with fleet(env.db, env.sim.base_url, tmp_path, 2) as nodes:
        await pin_all(nodes[0], env)
        await until(lambda: _stored(env, room_id, 20), 45, "the room storing")
        received: list[list[int]] = [[] for _ in range(5)]
        stop = asyncio.Event()
        pollers = [
            poll([nodes[0]], env, received[0], stop),
            poll([nodes[0]], env, received[1], stop),
            poll([nodes[1]], env, received[2], stop),
            poll([nodes[1]], env, received[3], stop),
            poll(nodes, env, received[4], stop),  # moves from one node to the other each time
        ]
        tasks = [asyncio.create_task(p) for p in pollers]

        async def enough() -> bool:
            for task in tasks:
                if task.done():
                    task.result()  # a poller failed: show why
            return sum(map(len, received)) >= WANTED

        try:
            await until(enough, 60, f"{WANTED} messages received")
        finally:
            stop.set()
            await asyncio.gather(*tasks)
    everything = [m for got in received for m in got]
    assert len(everything) == len(set(everything)), (
        f"{len(everything) - len(set(everything))} of {len(everything)} received twice"
    )
    stored = stored_msg_ids(env.db, room_id)
    index = {m: i for i, m in enumerate(stored)}
    spans = sorted(index[m] for m in everything)
    missed = [m for m in stored[spans[0] : spans[-1] + 1] if m not in set(everything)]
    assert not missed, f"{len(missed)} stored messages reached no poller"
    counts = [len(got) for got in received]
    assert counts[0] + counts[1] and counts[2] + counts[3] and counts[4], counts  # all took part


async def _stored(env: Env, room_id: int, n: int) -> bool:
    return len(stored_msg_ids(env.db, room_id)) >= n

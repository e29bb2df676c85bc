"""Exactly once, in order, across a SIGKILL of ``dylive serve`` while the simulator keeps sending.

The server runs as a subprocess on an SQLite file; a cursor-following client and a client that
relies on the server-side position poll it; the server is killed (SIGKILL, not a graceful stop)
and restarted on the same file; at the end both clients must have received exactly the stored
messages of the room, in store order, each once, and that order must be the simulator's
emission order.
"""

from __future__ import annotations

import asyncio
import signal
import sqlite3
from pathlib import Path
from typing import Any

import httpx
import orjson
from support.process import start_serve

from dylive.serve import tokens
from dylive.sim import DEFAULT_ROOM_ID, DEFAULT_WEB_RID, SimConfig, SimServer
from dylive.store import SQLiteStore
from dylive.store.migrations import to_signed

CHAT = "/douyin/liveroom/chat"


async def poll(client: httpx.AsyncClient, params: dict[str, Any]) -> dict[str, Any]:
    resp = await client.get(CHAT, params={**params, "methods": "all", "count": 40})
    assert resp.status_code == 200, resp.text
    return orjson.loads(resp.content)["data"]


async def test_restart_loses_nothing_and_repeats_nothing(tmp_path: Path) -> None:
    db = str(tmp_path / "restart.sqlite3")
    async with SQLiteStore(db) as store:
        t_cursor = await tokens.create(store, "cursor-client")
        t_server = await tokens.create(store, "position-client")
    got_cursor: list[int] = []
    got_server: list[int] = []
    cursor = ""
    async with SimServer(SimConfig(seed=11, rate=60.0, tick=0.05)) as sim:
        for _round in range(2):
            proc, base = await start_serve(db, sim.base_url)
            try:
                async with httpx.AsyncClient(base_url=base, timeout=30) as client:
                    for _ in range(12):
                        params = {"token": t_cursor, "room_id": DEFAULT_WEB_RID}
                        if cursor:
                            params["cursor"] = cursor
                        data = await poll(client, params)
                        cursor = data["cursor"]
                        got_cursor += [m["msg_id"] for m in data["messages"]]
                        data = await poll(client, {"token": t_server, "room_id": DEFAULT_WEB_RID})
                        got_server += [m["msg_id"] for m in data["messages"]]
                        await asyncio.sleep(0.1)
            finally:
                proc.send_signal(signal.SIGKILL)  # no graceful stop
                await proc.wait()
        # a last server drains what was stored before the kill, without collecting more
        proc, base = await start_serve(db, "http://127.0.0.1:9")
        try:
            async with httpx.AsyncClient(base_url=base, timeout=30) as client:
                for _ in range(50):
                    a = await poll(
                        client,
                        {"token": t_cursor, "room_id": str(DEFAULT_ROOM_ID), "cursor": cursor},
                    )
                    cursor = a["cursor"]
                    got_cursor += [m["msg_id"] for m in a["messages"]]
                    b = await poll(client, {"token": t_server, "room_id": str(DEFAULT_ROOM_ID)})
                    got_server += [m["msg_id"] for m in b["messages"]]
                    if not a["messages"] and not b["messages"]:
                        break
        finally:
            proc.send_signal(signal.SIGKILL)
            await proc.wait()
        log_ids = [e["msg_id"] for e in sim.log(DEFAULT_WEB_RID)]
    conn = sqlite3.connect(db)
    stored = [
        row[0] if row[0] >= 0 else row[0] + 2**64
        for row in conn.execute(
            "SELECT msg_id FROM events WHERE room_id = ? ORDER BY seq",
            (to_signed(DEFAULT_ROOM_ID),),
        )
    ]
    conn.close()
    assert len(stored) > 100
    # the first call without a cursor starts with the recent backlog: compare from its start
    for got in (got_cursor, got_server):
        assert len(got) == len(set(got)), "a message was delivered twice"
        start = stored.index(got[0])
        assert got == stored[start:], "lost or reordered messages"
    positions = [log_ids.index(i) for i in stored]
    assert positions == sorted(positions), "store order differs from emission order"

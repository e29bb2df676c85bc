"""``live_status`` on the SSE stream and on ``/api/rooms/{room}/ws`` (issue #20).

A pinned room's broadcast ends and the next one starts while an SSE stream and a WebSocket feed,
both opened by web_rid, are connected: each is told ``ended``, ``waiting`` and ``live`` (with the
new room_id), and each moves on to the new broadcast by itself, delivering every stored message
of both broadcasts once, in order.
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Any

import httpx
import orjson
from support.service import serving
from support.waiting import until
from websockets.asyncio.client import connect

from dylive.app import ServiceConfig
from dylive.serve import tokens
from dylive.sim import SimConfig, SimServer

WEB_RID = "700100200301"


class Seen:
    def __init__(self) -> None:
        self.statuses: list[dict[str, Any]] = []
        self.ids: list[int] = []


async def read_sse(client: httpx.AsyncClient, seen: Seen) -> None:
    params = {"count": 0, "methods": "all"}
    async with client.stream("GET", f"/api/rooms/{WEB_RID}/stream", params=params) as resp:
        assert resp.status_code == 200
        event = ""
        async for line in resp.aiter_lines():
            if line.startswith("event:"):
                event = line.split(":", 1)[1].strip()
            elif line.startswith("data:"):
                data = orjson.loads(line[5:])
                if event == "live_status":
                    seen.statuses.append(data)
                elif not event:
                    seen.ids.append(int(data["msg_id"]))
                event = ""


async def read_ws(url: str, seen: Seen) -> None:
    async with connect(url) as ws:
        async for text in ws:
            frame = orjson.loads(text)
            if frame["type"] == "live_status":
                seen.statuses.append(frame)
            elif frame["type"] == "messages":
                seen.ids.extend(int(m["msg_id"]) for m in frame["messages"])


def told(seen: Seen, *states: str) -> bool:
    return [s["status"] for s in seen.statuses][-len(states) :] == list(states)


async def test_streams_are_told_and_follow_the_next_broadcast(tmp_path: Path) -> None:
    async with SimServer(SimConfig(seed=23, rate=20.0, tick=0.05)) as sim:
        sim.create_room(WEB_RID, rate=20.0)
        config = ServiceConfig(
            db=str(tmp_path / "s.sqlite3"), upstream=sim.base_url, follow_interval=1.0
        )
        async with serving(config) as (base, svc):
            svc.stream.status_interval = 0.3  # type: ignore[attr-defined]
            svc.stream.max_duration = 300.0  # type: ignore[attr-defined]
            token = await tokens.create(svc.store, "live")  # type: ignore[attr-defined]
            async with httpx.AsyncClient(
                base_url=base, timeout=60, params={"token": token}
            ) as client:
                assert (await client.post(f"/api/rooms/{WEB_RID}/pin")).status_code == 200
                first = sim.room_id(WEB_RID)
                await until(lambda: first in svc.rooms.rooms, 15, "collecting")  # type: ignore[attr-defined]
                sse, ws = Seen(), Seen()
                ws_url = base.replace("http", "ws") + f"/api/rooms/{WEB_RID}/ws?token={token}"
                tasks = [
                    asyncio.create_task(read_sse(client, sse)),
                    asyncio.create_task(read_ws(ws_url + "&methods=all", ws)),
                ]
                try:
                    for seen in (sse, ws):
                        await until(lambda s=seen: told(s, "live") and len(s.ids) >= 5, 30)
                    sim.end(WEB_RID)
                    for seen in (sse, ws):
                        await until(lambda s=seen: told(s, "ended", "waiting"), 30)
                    sim.start(WEB_RID)
                    second = sim.room_id(WEB_RID)
                    for seen in (sse, ws):
                        await until(lambda s=seen: told(s, "ended", "waiting", "live"), 30)
                        assert seen.statuses[-1]["room_id"] == second
                        assert seen.statuses[-3]["room_id"] == first

                    async def delivered() -> bool:
                        stored = [
                            m.msg_id
                            for rid in (first, second)
                            for m in (await svc.store.read(rid, 0, 100_000)).messages  # type: ignore[attr-defined]
                        ]
                        return all(
                            s.ids and len(s.ids) > 20 and s.ids == stored[stored.index(s.ids[0]) :]
                            for s in (sse, ws)
                        ) and any(m in stored[-5:] for m in sse.ids)

                    await until(delivered, 30, "both broadcasts delivered once, in order")
                finally:
                    for task in tasks:
                        task.cancel()
                        with contextlib.suppress(asyncio.CancelledError, Exception):
                            await task

"""``dylive serve --room …`` opens its port at once and starts its pinned rooms in the background.

Upstream sits behind a gate that holds every connection until the test opens it: the room's
resolution cannot finish before that. The server must answer meanwhile, list the room as
``starting`` in ``/api/rooms``, and collect it once the gate opens.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import orjson
from support.process import run_dylive, serve_process
from support.waiting import until

from dylive.sim import DEFAULT_ROOM_ID, DEFAULT_WEB_RID, SimConfig, SimServer
from dylive.sim.tcpproxy import TcpProxy


class GatedProxy(TcpProxy):
    """A relay to the simulator that holds each new connection until :attr:`gate` is set."""

    def __init__(self, host: str, port: int) -> None:
        super().__init__(host, port)
        self.gate = asyncio.Event()
        self.held = 0  # connections waiting at the gate now

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.held += 1
        try:
            await self.gate.wait()
        finally:
            self.held -= 1
        await super()._accept(reader, writer)


async def test_the_port_answers_while_a_pinned_room_is_still_resolving(tmp_path: Path) -> None:
    db = str(tmp_path / "pins.sqlite3")
    code, out, err = await run_dylive("token", "create", "--db", db, "--name", "ops")
    assert code == 0, err
    token = out.split()[-1]
    async with SimServer(SimConfig(seed=5, rate=20.0, tick=0.05)) as sim:
        port = int(sim.base_url.rsplit(":", 1)[1])
        async with (
            GatedProxy("127.0.0.1", port) as gate,
            serve_process(db, f"http://127.0.0.1:{gate.port}", "--room", DEFAULT_WEB_RID) as (
                _proc,
                base,
            ),
            httpx.AsyncClient(base_url=base, timeout=30) as client,
        ):
            # the server listens although the resolution it started is still held at the gate
            await until(lambda: gate.held >= 1, 30, "the pinned room's resolution reached upstream")

            async def rooms() -> list[dict[str, Any]]:
                resp = await client.get("/api/rooms", params={"token": token})
                assert resp.status_code == 200, resp.text
                listed: list[dict[str, Any]] = orjson.loads(resp.content)["data"]["rooms"]
                return listed

            listed = await rooms()
            assert not gate.gate.is_set() and gate.held >= 1  # still unresolved
            assert [(r["room"], r["state"], r["pinned"]) for r in listed] == [
                (DEFAULT_WEB_RID, "starting", True)
            ]
            health = await client.get("/healthz")
            assert health.status_code == 200

            gate.gate.set()

            async def collecting() -> bool:
                listed = await rooms()
                return any(
                    r.get("room_id") == DEFAULT_ROOM_ID and r["collecting"] and r["stored"] > 0
                    for r in listed
                )

            await until(collecting, 60, "the pinned room collects once upstream answers")
            assert all(r.get("state") != "starting" for r in await rooms())

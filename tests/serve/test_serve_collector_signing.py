"""``ServiceConfig.signing`` reaches the service's collectors: against the simulator in strict
a_bogus mode, ``signing="off"`` gets the collector's HTTP requests refused (counted in the room's
transport status) while ``"v2"`` is never refused."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import orjson
from support.waiting import until

from dylive.serve import tokens
from dylive.serve.app import ServiceConfig
from dylive.sim import DEFAULT_WEB_RID, SimConfig, SimServer


async def refusals_after_collecting(tmp_path: Path, serve_api: Any, signing: str) -> int:
    async with SimServer(SimConfig(seed=31, rate=40.0, tick=0.05, abogus="full")) as sim:
        config = ServiceConfig(
            db=str(tmp_path / f"c-{signing}.sqlite3"), upstream=sim.base_url, signing=signing
        )
        config.pins = [DEFAULT_WEB_RID]
        async with (
            serve_api(config) as (base, svc),
            httpx.AsyncClient(base_url=base, timeout=30) as client,
        ):
            token = await tokens.create(svc.store, "sign")
            headers = {"Authorization": f"Bearer {token}"}

            async def collected() -> dict[str, Any] | None:
                resp = await client.get(f"/api/rooms/{DEFAULT_WEB_RID}", headers=headers)
                assert resp.status_code == 200, resp.text
                room: dict[str, Any] = orjson.loads(resp.content)["data"]
                return room if room["stored"] > 0 and room["transport"] else None

            room = await until(collected, 20, "the pinned room to store messages")
            return int(room["transport"]["refusals"])


async def test_signing_off_reaches_the_collector(tmp_path: Path, serve_api: Any) -> None:
    assert await refusals_after_collecting(tmp_path, serve_api, "off") > 0


async def test_signing_v2_reaches_the_collector(tmp_path: Path, serve_api: Any) -> None:
    assert await refusals_after_collecting(tmp_path, serve_api, "v2") == 0

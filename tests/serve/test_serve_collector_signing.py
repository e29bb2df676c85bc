"""``ServiceConfig.signing`` reaches the service's collectors: against the simulator in strict
a_bogus mode, ``signing="off"`` gets the collector's HTTP requests refused (counted in the room's
transport status) while ``"v2"`` is never refused."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import orjson

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
            for _ in range(200):
                resp = await client.get(f"/api/rooms/{DEFAULT_WEB_RID}", headers=headers)
                assert resp.status_code == 200, resp.text
                room = orjson.loads(resp.content)["data"]
                if room["stored"] > 0 and room["transport"]:
                    return int(room["transport"]["refusals"])
                await asyncio.sleep(0.05)
    raise AssertionError("the pinned room stored nothing")


async def test_signing_off_reaches_the_collector(tmp_path: Path, serve_api: Any) -> None:
    assert await refusals_after_collecting(tmp_path, serve_api, "off") > 0


async def test_signing_v2_reaches_the_collector(tmp_path: Path, serve_api: Any) -> None:
    assert await refusals_after_collecting(tmp_path, serve_api, "v2") == 0

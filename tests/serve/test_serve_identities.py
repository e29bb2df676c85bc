"""The service collects through the identity pool: degraded reasons in /api/rooms, the
Prometheus gauge per reason, ``data.coverage`` in the chat response, stored identities used."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import orjson
from support.waiting import until

from dylive.serve import tokens
from dylive.serve.app import ServiceConfig
from dylive.sim import DEFAULT_WEB_RID, SimConfig, SimServer
from dylive.sim.defences import Defences
from dylive.store import IdentityRecord, open_store


def simulator() -> SimServer:
    cfg = SimConfig(seed=37, rate=40.0, tick=0.05, ping_interval=None)
    cfg.defences = Defences(gifts_need_login=True)
    return SimServer(cfg)


async def room_until(client: httpx.AsyncClient, headers: Any, pred: Any) -> dict[str, Any]:
    async def room() -> dict[str, Any] | None:
        resp = await client.get(f"/api/rooms/{DEFAULT_WEB_RID}", headers=headers)
        assert resp.status_code == 200, resp.text
        data: dict[str, Any] = orjson.loads(resp.content)["data"]
        return data if pred(data) else None

    return await until(room, 45, "the room's condition")


async def test_guest_room_reports_hidden_gifts(tmp_path: Path, serve_api: Any) -> None:
    async with simulator() as sim:
        config = ServiceConfig(db=str(tmp_path / "g.sqlite3"), upstream=sim.base_url)
        config.pins = [DEFAULT_WEB_RID]
        async with (
            serve_api(config) as (base, svc),
            httpx.AsyncClient(base_url=base, timeout=30) as client,
        ):
            token = await tokens.create(svc.store, "t")
            headers = {"Authorization": f"Bearer {token}"}
            room = await room_until(client, headers, lambda r: "gifts_hidden" in r["degraded"])
            assert room["identity"] == {"name": "default", "guest": True}
            chat = await client.get(
                "/douyin/liveroom/chat", params={"token": token, "room_id": DEFAULT_WEB_RID}
            )
            data = orjson.loads(chat.content)["data"]
            assert data["coverage"]["gifts"] == "hidden"
            assert "gifts_hidden" in data["coverage"]["degraded"] and data["messages"]
            metrics = (await client.get("/metrics")).text
            assert 'dylive_rooms_degraded{reason="gifts_hidden"} 1.0' in metrics
            assert 'dylive_rooms_degraded{reason="refused"} 0.0' in metrics


async def test_stored_identity_collects_the_gifts(tmp_path: Path, serve_api: Any) -> None:
    db = str(tmp_path / "i.sqlite3")
    async with simulator() as sim:
        store = open_store(db)
        async with store:
            await store.save_identity(IdentityRecord("alice", sim.login("alice")))
        config = ServiceConfig(db=db, upstream=sim.base_url)
        config.pins = [DEFAULT_WEB_RID]
        async with (
            serve_api(config) as (base, svc),
            httpx.AsyncClient(base_url=base, timeout=30) as client,
        ):
            token = await tokens.create(svc.store, "t")
            headers = {"Authorization": f"Bearer {token}"}
            room = await room_until(
                client, headers, lambda r: (r["transport"] or {}).get("coverage", {}).get("gifts")
                == "visible",
            )  # fmt: skip
            assert room["identity"] == {"name": "alice", "guest": False}
            assert room["degraded"] == []

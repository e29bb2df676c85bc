"""The audience path against the simulator in strict a_bogus mode (``SimConfig(abogus="full")``):
Douyin's ranklist answers when the request is signed, our own ledger when the upstream refuses
(unsigned request, or an empty 200 body)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from dylive.serve import tokens
from dylive.serve.app import ServiceConfig
from dylive.sim import DEFAULT_ROOM_ID, DEFAULT_WEB_RID, SimConfig, SimServer
from dylive.sim.upstream import ranks_json

CHAT = "/douyin/liveroom/chat"
AUDIENCE = "/douyin/liveroom/audience"


@asynccontextmanager
async def strict_api(
    tmp_path: Path, serve_api: Any, signing: str
) -> AsyncIterator[tuple[httpx.AsyncClient, Any, SimServer, str]]:
    async with SimServer(SimConfig(seed=21, rate=40.0, tick=0.05, abogus="full")) as sim:
        db = str(tmp_path / f"sign-{signing}.sqlite3")
        config = ServiceConfig(db=db, upstream=sim.base_url, signing=signing)
        async with (
            serve_api(config) as (base, svc),
            httpx.AsyncClient(base_url=base, timeout=30) as client,
        ):
            token = await tokens.create(svc.store, "signing")
            yield client, svc, sim, token


async def gifts_collected(client: httpx.AsyncClient, svc: Any, sim: SimServer, token: str) -> None:
    """Poll the room until the simulator has ranked gifts and our store holds gifts too."""
    params: dict[str, Any] = {"token": token, "room_id": DEFAULT_WEB_RID, "methods": "gift"}
    for _ in range(100):
        resp = await client.get(CHAT, params={**params, "wait": 1})
        assert resp.status_code == 200, resp.text
        params["cursor"] = orjson.loads(resp.content)["data"]["cursor"]
        stored = await svc.store.messages_of(DEFAULT_ROOM_ID, ["WebcastGiftMessage"], 0)
        if stored and sim.room_obj(DEFAULT_WEB_RID).script.c.scores:
            return
        await asyncio.sleep(0.1)
    raise AssertionError("no gifts collected")


async def audience(client: httpx.AsyncClient, token: str) -> dict[str, Any]:
    resp = await client.get(AUDIENCE, params={"token": token, "room_id": DEFAULT_WEB_RID})
    assert resp.status_code == 200, resp.text
    body: dict[str, Any] = orjson.loads(resp.content)
    assert body["code"] == 200
    return body["data"]


async def test_audience_signed_upstream_in_strict_mode(
    tmp_path: Path, serve_api: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="dylive.analytics.audience")
    async with strict_api(tmp_path, serve_api, "v2") as (client, svc, sim, token):
        await gifts_collected(client, svc, sim, token)
        data = await audience(client, token)
        assert data["source"] == "upstream"
        direct = ranks_json(sim.room_obj(DEFAULT_WEB_RID), DEFAULT_ROOM_ID)
        ours = data["data"]
        assert set(ours) == set(direct) and ours["currency"] == "音浪"
        assert ours["ranks"] and set(ours["ranks"][0]) == set(direct["ranks"][0])
        top = {r["user"]["id_str"] for r in direct["ranks"][:3]}
        assert ours["ranks"][0]["user"]["id_str"] in top  # Douyin's own ranking, passed through
        # the upstream refuses (empty 200 body): the ledger answers
        assert "ranklist upstream failed" not in caplog.text
        sim.set_faults(DEFAULT_WEB_RID, http_empty=1.0)
        data = await audience(client, token)
        assert data["source"] == "ledger" and data["data"]["ranks"]
        assert "ranklist answered an empty body" in caplog.text


async def test_audience_unsigned_refused_falls_back_to_ledger(
    tmp_path: Path, serve_api: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """``signing="off"`` against strict mode: the ranklist request is refused, the ledger
    (built from the gifts the collector stored) answers with Douyin's field names."""
    caplog.set_level(logging.INFO, logger="dylive.analytics.audience")
    async with strict_api(tmp_path, serve_api, "off") as (client, svc, sim, token):
        await gifts_collected(client, svc, sim, token)
        data = await audience(client, token)
        assert data["source"] == "ledger"
        assert "ranklist answered an empty body" in caplog.text  # refused, not merely empty
        ranks = data["data"]["ranks"]
        assert ranks and ranks[0]["rank"] == 1 and ranks[0]["score"] > 0
        assert [r["score"] for r in ranks] == sorted((r["score"] for r in ranks), reverse=True)

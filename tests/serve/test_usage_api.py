"""Usage metering and quotas through the HTTP API (in process, against the simulator or an
unreachable upstream): the figures of ``GET /api/usage`` equal the requests a test made, by
endpoint and code, before and after a flush; a quota refuses exactly at its limit, says when
it resets, and resets; the ``X-RateLimit-*`` headers count down."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from dylive.serve import tokens
from dylive.serve.app import ServiceConfig
from dylive.sim import DEFAULT_WEB_RID, SimConfig, SimServer
from dylive.store import Quota

CHAT = "/douyin/liveroom/chat"
DAY = 86_400


@pytest.fixture
async def live(tmp_path: Path, serve_api: Any) -> AsyncIterator[tuple[httpx.AsyncClient, Any]]:
    async with SimServer(SimConfig(seed=5, rate=40.0, tick=0.05)) as sim:
        config = ServiceConfig(
            db=str(tmp_path / "u.sqlite3"), upstream=sim.base_url, signing="off", ranklist=False
        )
        async with (
            serve_api(config) as (base, svc),
            httpx.AsyncClient(base_url=base, timeout=30) as client,
        ):
            yield client, svc


async def usage(client: httpx.AsyncClient, token: str, **params: str) -> dict[str, Any]:
    resp = await client.get("/api/usage", params={"token": token, **params})
    assert resp.status_code == 200, resp.text
    data: dict[str, Any] = orjson.loads(resp.content)["data"]
    return data


async def test_usage_equals_the_requests_made(live: Any) -> None:
    client, svc = live
    token = await tokens.create(svc.store, "metered")
    other = await tokens.create(svc.store, "other")
    made: Counter[tuple[str, str]] = Counter()
    messages = body_bytes = 0
    params = {"token": token, "room_id": DEFAULT_WEB_RID, "methods": "all", "count": "7"}
    for i in range(6):
        resp = await client.get(CHAT, params={**params, "wait": "2"})
        assert resp.status_code == 200, resp.text
        made["chat", "200"] += 1
        messages += len(orjson.loads(resp.content)["data"]["messages"])
        body_bytes += len(resp.content)
        if i == 2:
            await svc.meter.flush()  # some counts flushed, some pending: the sum is the same
    for bad in ({"count": "0"}, {"count": "x"}):
        resp = await client.get(CHAT, params={**params, **bad})
        made["chat", str(orjson.loads(resp.content)["code"])] += 1
        body_bytes += len(resp.content)
    resp = await client.get(CHAT, params={"token": token})  # no room_id
    made["chat", "40003"] += 1
    body_bytes += len(resp.content)
    resp = await client.get("/api/rooms", params={"token": token})
    made["rooms", "200"] += 1
    body_bytes += len(resp.content)
    await client.get("/api/rooms", params={"token": other})  # another token's request
    await client.get(CHAT, params={"token": "dyl_unknown", "room_id": DEFAULT_WEB_RID})
    assert messages > 0

    expected_by: dict[str, dict[str, int]] = {}
    for (endpoint, code), n in made.items():
        expected_by.setdefault(endpoint, {})[code] = n
    for flushed in (False, True):
        if flushed:
            await svc.meter.flush()
            assert svc.meter.pending() == []
        data = await usage(client, token)
        total = data["total"]
        assert total["by_endpoint"] == expected_by, flushed
        assert total["requests"] == sum(made.values())
        assert total["billable"] == sum(n for (_e, code), n in made.items() if code == "200")
        assert total["messages"] == messages and total["messages_by"] == {"chat": messages}
        assert total["bytes"] == body_bytes
        assert total["rooms"] == 1
        assert data["token"] == "metered" and data["granularity"] == "day"
        today = time.strftime("%Y-%m-%d", time.gmtime())
        assert [p["period"] for p in data["periods"]] == [today]
        assert data["periods"][0]["requests"] == total["requests"]
        # the usage reads themselves are metered too, from the next read on
        made["usage", "200"] += 1
        expected_by.setdefault("usage", {})["200"] = made["usage", "200"]
        body_bytes += len(orjson.dumps({"code": 200, "msg": "成功", "data": data}))

    hourly = await usage(client, token, granularity="hour")
    assert sum(p["requests"] for p in hourly["periods"]) == sum(made.values())
    assert hourly["periods"][-1]["period"] == time.strftime("%Y-%m-%dT%H:00Z", time.gmtime())
    for bad in (
        {"granularity": "week"},
        {"from": "yesterday"},
        {"from": "2026-01-02", "to": "2026-01-01"},
    ):
        resp = await client.get("/api/usage", params={"token": token, **bad})
        assert resp.status_code == 400 and resp.json()["code"] == 40005, resp.text
    resp = await client.get("/api/usage")
    assert resp.json()["code"] == 40001


async def test_a_request_quota_refuses_exactly_at_its_limit_and_resets(
    db_path: str, serve_api: Any
) -> None:
    config = ServiceConfig(db=db_path, upstream="http://127.0.0.1:9", ranklist=False)
    async with serve_api(config) as (base, svc), httpx.AsyncClient(base_url=base) as client:
        token = await tokens.create(svc.store, "plan", quota=Quota(requests_per_day=3))
        unlimited = await tokens.create(svc.store, "free")
        midnight = (int(time.time()) // DAY + 1) * DAY
        for remaining in (2, 1, 0):
            resp = await client.get("/api/rooms", params={"token": token})
            assert resp.status_code == 200, resp.text
            assert resp.headers["x-ratelimit-limit"] == "3"
            assert resp.headers["x-ratelimit-remaining"] == str(remaining)
            assert resp.headers["x-ratelimit-reset"] == str(midnight)
        refused = await client.get("/api/rooms", params={"token": token})
        assert refused.status_code == 429
        body = refused.json()
        assert body["code"] == 42902 and body["msg"] == "超出配额"
        assert body["data"]["quota"] == "requests_per_day" and body["data"]["limit"] == 3
        assert body["data"]["reset"] == midnight
        assert 0 < int(refused.headers["retry-after"]) <= DAY
        assert refused.headers["x-ratelimit-remaining"] == "0"
        # refusals are not billable: still refused, and the usage says so
        assert (await client.get("/api/rooms", params={"token": token})).status_code == 429
        other = await client.get("/api/rooms", params={"token": unlimited})
        assert other.status_code == 200 and "x-ratelimit-limit" not in other.headers
        await svc.meter.flush()
        data = await usage(client, unlimited)
        assert data["quota"] == {"requests_per_second": 0.0}
        planned = next(r for r in await svc.store.list_tokens() if r.name == "plan")
        assert await svc.store.usage_totals([planned.id], 0) == {planned.id: (3, 0)}
        # the next UTC day: the quota starts again
        real = svc.meter.clock
        svc.meter.clock = lambda: real() + DAY
        resp = await client.get("/api/rooms", params={"token": token})
        assert resp.status_code == 200, resp.text
        assert resp.headers["x-ratelimit-remaining"] == "2"
        assert resp.headers["x-ratelimit-reset"] == str(midnight + DAY)
    # a restart does not refill the quota (the totals come from the store)
    async with serve_api(config) as (base, svc), httpx.AsyncClient(base_url=base) as client:
        refused = await client.get("/api/rooms", params={"token": token})
        assert refused.status_code == 429 and refused.json()["code"] == 42902


async def test_a_message_quota_clips_the_last_page_then_refuses(live: Any) -> None:
    client, svc = live
    token = await tokens.create(svc.store, "messages", quota=Quota(messages_per_day=12))
    params = {"token": token, "room_id": DEFAULT_WEB_RID, "methods": "all", "count": "5"}
    got = []
    for _ in range(3):
        resp = await client.get(CHAT, params={**params, "wait": "5"})
        assert resp.status_code == 200, resp.text
        got.append(len(resp.json()["data"]["messages"]))
        if sum(got) >= 12:
            break
    assert sum(got) == 12 and got[-1] == 2, got
    refused = await client.get(CHAT, params=params)
    assert refused.status_code == 429 and refused.json()["data"]["quota"] == "messages_per_day"
    data = await usage(client, token)
    assert data["quota"]["messages_per_day"]["used"] == 12
    assert data["quota"]["messages_per_day"]["remaining"] == 0


async def test_an_expired_token_is_refused(offline_api: Any) -> None:
    client, svc = offline_api
    now = time.time_ns() // 1_000_000
    gone = await tokens.create(svc.store, "gone", expires_at=now - 1)
    later = await tokens.create(svc.store, "later", expires_at=now + 3_600_000)
    resp = await client.get("/api/rooms", params={"token": gone})
    assert resp.status_code == 401 and resp.json()["code"] == 40002
    assert "expired" in resp.json()["data"]["detail"]
    assert (await client.get("/api/rooms", params={"token": later})).status_code == 200


async def test_metrics_show_per_token_usage_for_the_busiest_tokens_only(offline_api: Any) -> None:
    client, svc = offline_api
    busy = await tokens.create(svc.store, "busy")
    for _ in range(3):
        assert (await client.get("/api/rooms", params={"token": busy})).status_code == 200
    await client.get("/douyin/liveroom/chat", params={"token": busy})  # 40003
    for i in range(25):
        quiet = await tokens.create(svc.store, f"quiet-{i}")
        await client.get("/api/rooms", params={"token": quiet})
    await svc.meter.flush()
    text = (await client.get("/metrics")).text
    busy_id = next(t.id for t in await svc.store.list_tokens() if t.name == "busy")
    assert f'dylive_token_requests_total{{token="busy",token_id="{busy_id}"}} 4.0' in text
    assert f'dylive_token_billable_total{{token="busy",token_id="{busy_id}"}} 3.0' in text
    series = [line for line in text.splitlines() if line.startswith("dylive_token_requests_total")]
    assert len(series) == 20
    assert "dylive_usage_flushes_total 1.0" in text

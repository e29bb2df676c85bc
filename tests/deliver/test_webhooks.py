"""Webhooks end to end against the simulator and a real local receiver: signed, batched,
at least once and in order per room despite failures; dead letters and replay; pause and
resume; the SSRF guard; ownership, limits and validation; secrets never shown again."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from support.receiver import Receiver
from support.service import serving
from support.waiting import until

from dylive.deliver.outbox import OutboxPolicy
from dylive.deliver.webhooks import WebhookSettings
from dylive.serve import tokens
from dylive.serve.app import ServiceConfig
from dylive.sim import DEFAULT_ROOM_ID, DEFAULT_WEB_RID, SimConfig, SimServer

SECRET = "a-test-secret-0123456789"
FAST = OutboxPolicy(backoff_initial=0.02, backoff_max=0.2, idle_wait=1.0, scan_interval=0.5)


def settings(**policy: Any) -> WebhookSettings:
    fast = dataclasses.replace(FAST, **policy)
    return WebhookSettings(allow_private=True, policy=fast, sync_interval=0.3, timeout=5.0)


@pytest.fixture
async def live(tmp_path: Path) -> AsyncIterator[tuple[httpx.AsyncClient, Any, str]]:
    async with SimServer(SimConfig(seed=3, rate=60.0, tick=0.05)) as sim:
        config = ServiceConfig(
            db=str(tmp_path / "w.sqlite3"), upstream=sim.base_url, webhook_settings=settings()
        )
        async with (
            serving(config) as (base, svc),
            httpx.AsyncClient(base_url=base, timeout=30) as client,
        ):
            token = await tokens.create(svc.store, "hooks")
            yield client, svc, token
            sim.end(DEFAULT_WEB_RID)


async def create(client: httpx.AsyncClient, token: str, **body: Any) -> dict[str, Any]:
    resp = await client.post("/api/webhooks", params={"token": token}, json=body)
    assert resp.status_code == 200, resp.text
    data: dict[str, Any] = resp.json()["data"]
    return data


async def stored_after(svc: Any, after: int) -> list[tuple[int, int]]:
    """(seq, msg_id) of every stored message of the default room after ``after``."""
    page = await svc.store.read(DEFAULT_ROOM_ID, after, 100_000, None)
    return [(m.seq, m.msg_id) for m in page.messages]


async def test_signed_batches_arrive_at_least_once_in_order(live: Any) -> None:
    client, svc, token = live
    async with Receiver(secret=SECRET, fail=0.3) as rx:
        hook = await create(
            client, token, url=rx.url, secret=SECRET, rooms=[DEFAULT_WEB_RID], methods=["all"]
        )
        assert "secret" not in hook and hook["state"] == "active"
        start = hook["positions"][str(DEFAULT_ROOM_ID)]
        await until(lambda: len(rx.all_ids()) >= 150, what="150 messages delivered")
        expected = await stored_after(svc, start)
        wanted = {msg_id for _, msg_id in expected}
        await until(lambda: wanted <= rx.all_ids(DEFAULT_ROOM_ID), what="all stored delivered")
        assert rx.failed > 0 and rx.bad_signatures == 0
        got = rx.got[DEFAULT_ROOM_ID]
        first_arrival = [i for i in dict.fromkeys(got) if i in wanted]
        assert first_arrival == [msg_id for _, msg_id in expected]  # seq order per room
        seen = rx.headers[-1]
        assert seen["x-dylive-webhook"] == str(hook["id"])
        assert seen["x-dylive-timestamp"].isdigit() and seen["x-dylive-delivery"]
        assert seen["content-type"] == "application/json"
        view = (await client.get(f"/api/webhooks/{hook['id']}", params={"token": token})).json()
        data = view["data"]
        assert data["delivered"] >= len(wanted) and data["retried"] > 0
        assert data["dead_letters"] == 0 and data["dead_letter_list"] == []
        assert SECRET not in (await client.get("/api/webhooks", params={"token": token})).text
        metrics = (await client.get("/metrics")).text
        assert f'dylive_webhook_delivered_total{{webhook="{hook["id"]}"}}' in metrics


async def test_dead_letters_then_replay_and_pause_resume(tmp_path: Path) -> None:
    async with SimServer(SimConfig(seed=4, rate=30.0, tick=0.05)) as sim:
        config = ServiceConfig(
            db=str(tmp_path / "d.sqlite3"),
            upstream=sim.base_url,
            webhook_settings=settings(dead_after=0.3, pause_after=2.0),
        )
        async with (
            serving(config) as (base, svc),
            httpx.AsyncClient(base_url=base, timeout=30) as client,
            Receiver(secret=SECRET, mode="fail") as rx,
        ):
            token = await tokens.create(svc.store, "dl")
            hook = await create(
                client, token, url=rx.url, secret=SECRET, rooms=[DEFAULT_WEB_RID], batch_size=20
            )
            path, params = f"/api/webhooks/{hook['id']}", {"token": token}

            async def view() -> dict[str, Any]:
                data: dict[str, Any] = (await client.get(path, params=params)).json()["data"]
                return data

            async def has_letters() -> bool:
                return (await view())["dead_letters"] > 0

            await until(has_letters, what="a dead letter")
            letter = (await view())["dead_letter_list"][0]
            assert letter["count"] > 0 and "503" in letter["error"] and letter["attempts"] >= 1

            async def paused() -> bool:
                return (await view())["state"] == "paused"

            await until(paused, what="paused after failing for pause_after")
            assert "503" in (await view())["pause_reason"]
            bad = await client.post(f"{path}/dead-letters/{letter['id']}/replay", params=params)
            assert bad.status_code == 502 and bad.json()["code"] == 50202
            rx.mode = "ok"
            ok = await client.post(f"{path}/dead-letters/{letter['id']}/replay", params=params)
            assert ok.status_code == 200 and ok.json()["data"]["replayed"] is True
            assert len(rx.all_ids()) == letter["count"]
            left = [d["id"] for d in (await view())["dead_letter_list"]]
            assert letter["id"] not in left
            missing = await client.post(f"{path}/dead-letters/{letter['id']}/replay", params=params)
            assert missing.status_code == 404 and missing.json()["code"] == 40403
            resumed = await client.post(f"{path}/resume", params=params)
            assert resumed.json()["data"]["state"] == "active"
            count = len(rx.all_ids())
            await until(lambda: len(rx.all_ids()) > count, what="delivery after resume")
            sim.end(DEFAULT_WEB_RID)


@pytest.fixture
async def offline(tmp_path: Path) -> AsyncIterator[tuple[httpx.AsyncClient, Any]]:
    """The API with an unreachable upstream and private targets refused (the default)."""
    config = ServiceConfig(db=str(tmp_path / "o.sqlite3"), upstream="http://127.0.0.1:9")
    async with (
        serving(config) as (base, svc),
        httpx.AsyncClient(base_url=base, timeout=30) as client,
    ):
        yield client, svc


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/hook",
        "http://localhost/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://192.168.0.10/",
        "http://[::1]/",
        "ftp://example.com/",
    ],
)
async def test_ssrf_targets_are_refused(offline: Any, url: str) -> None:
    client, svc = offline
    token = await tokens.create(svc.store, "ssrf")
    resp = await client.post(
        "/api/webhooks", params={"token": token}, json={"url": url, "rooms": [DEFAULT_WEB_RID]}
    )
    assert resp.status_code == 400 and resp.json()["code"] == 40006
    assert await svc.store.webhooks() == []


async def test_ownership_limits_validation_and_secrets(offline: Any) -> None:
    client, svc = offline
    svc.webhooks.settings.allow_private = True  # this test is about ownership, not SSRF
    alice = await tokens.create(svc.store, "alice", room_limit=2)
    bob = await tokens.create(svc.store, "bob")
    url = "http://127.0.0.1:9/hook"
    hook = await create(client, alice, url=url, rooms=[DEFAULT_WEB_RID])  # no secret: generated
    assert hook["secret"].startswith("whsec_") and len(hook["secret"]) > 30
    listing = await client.get("/api/webhooks", params={"token": alice})
    assert [h["id"] for h in listing.json()["data"]["webhooks"]] == [hook["id"]]
    assert hook["secret"] not in listing.text
    assert (
        hook["secret"]
        not in (await client.get(f"/api/webhooks/{hook['id']}", params={"token": alice})).text
    )
    for method in ("GET", "DELETE"):
        other = await client.request(method, f"/api/webhooks/{hook['id']}", params={"token": bob})
        assert other.status_code == 404 and other.json()["code"] == 40403
    assert (await client.get("/api/webhooks", params={"token": bob})).json()["data"][
        "webhooks"
    ] == []
    over = await client.post(
        "/api/webhooks", params={"token": alice}, json={"url": url, "rooms": ["111111", "222222"]}
    )
    assert over.status_code == 403 and over.json()["code"] == 40301
    bad_bodies: list[Any] = [
        {"rooms": [DEFAULT_WEB_RID]},
        {"url": url, "rooms": []},
        {"url": url, "rooms": [DEFAULT_WEB_RID], "secret": "short"},
        {"url": url, "rooms": [DEFAULT_WEB_RID], "methods": ["nope"]},
        {"url": url, "rooms": [DEFAULT_WEB_RID], "batch_size": 0},
        [1, 2],
    ]
    for body in bad_bodies:
        resp = await client.post("/api/webhooks", params={"token": bob}, json=body)
        assert resp.status_code == 400 and resp.json()["code"] == 40005, body
    resp = await client.post(
        "/api/webhooks", params={"token": bob}, json={"url": url, "rooms": ["x!"]}
    )
    assert resp.json()["code"] == 40004
    assert (await client.post("/api/webhooks", json={})).json()["code"] == 40001
    gone = await client.delete(f"/api/webhooks/{hook['id']}", params={"token": alice})
    assert gone.json()["data"]["deleted"] is True
    assert await svc.store.webhooks() == []

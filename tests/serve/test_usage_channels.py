"""Messages pushed to a token are metered as its usage too: webhook deliveries (counted as the
target acknowledges them), WebSocket feed frames and Server-Sent Events, each under its own
channel (``messages_by``), none of them a request."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import orjson
from support.receiver import Receiver
from support.service import serving
from support.waiting import until
from websockets.asyncio.client import connect

from dylive.deliver.outbox import OutboxPolicy
from dylive.deliver.webhooks import WebhookSettings
from dylive.serve import tokens
from dylive.serve.app import ServiceConfig
from dylive.sim import DEFAULT_WEB_RID, SimConfig, SimServer

SECRET = "a-test-secret-0123456789"
FAST = OutboxPolicy(backoff_initial=0.02, backoff_max=0.2, idle_wait=1.0, scan_interval=0.5)


async def test_webhook_feed_and_stream_messages_are_metered(tmp_path: Path) -> None:
    hooks = WebhookSettings(allow_private=True, policy=FAST, sync_interval=0.3, timeout=5.0)
    async with SimServer(SimConfig(seed=3, rate=60.0, tick=0.05)) as sim:
        config = ServiceConfig(
            db=str(tmp_path / "c.sqlite3"),
            upstream=sim.base_url,
            signing="off",
            ranklist=False,
            webhook_settings=hooks,
            usage_flush=0.2,
        )
        async with (
            serving(config) as (base, svc),
            httpx.AsyncClient(base_url=base, timeout=30) as client,
            Receiver(secret=SECRET) as receiver,
        ):
            token = await tokens.create(svc.store, "pushed")
            body = {
                "url": receiver.url,
                "secret": SECRET,
                "rooms": [DEFAULT_WEB_RID],
                "methods": ["all"],
            }
            resp = await client.post("/api/webhooks", params={"token": token}, json=body)
            assert resp.status_code == 200, resp.text
            await until(lambda: len(receiver.all_ids()) >= 20, 30, "webhook deliveries")

            ws_url = base.replace("http://", "ws://") + f"/api/rooms/{DEFAULT_WEB_RID}/ws"
            fed = 0
            async with connect(f"{ws_url}?token={token}&methods=all&count=5") as ws:
                while fed < 10:
                    frame = orjson.loads(await ws.recv())
                    if frame.get("type") == "messages":
                        fed += len(frame["messages"])
            streamed = 0
            path = f"/api/rooms/{DEFAULT_WEB_RID}/stream"
            params = {"token": token, "count": "5", "methods": "all"}
            async with client.stream("GET", path, params=params) as resp:
                async for line in resp.aiter_lines():
                    streamed += line.startswith('data: {"method"')
                    if streamed >= 5:
                        break

            async def usage() -> dict[str, Any]:
                await svc.meter.flush()
                resp = await client.get("/api/usage", params={"token": token})
                total: dict[str, Any] = resp.json()["data"]["total"]
                return total

            async def delivered() -> dict[str, Any] | None:
                total = await usage()
                by = total["messages_by"]
                acked = len(receiver.all_ids())
                ok = by.get("webhook", 0) >= 20 and by.get("webhook") == acked
                return total if ok and by.get("feed", 0) >= fed else None

            total = await until(delivered, 30, "webhook and feed deliveries metered", every=0.3)
            by = total["messages_by"]
            assert by["stream"] >= streamed
            assert total["messages"] == sum(by.values())
            # requests: the webhook's creation and the stream (and the usage reads); the
            # WebSocket feed is a connection, not a request
            assert {"webhook_create", "stream"} <= set(total["by_endpoint"])
            assert set(total["by_endpoint"]) <= {"webhook_create", "stream", "usage"}
            assert total["rooms"] == 1
            sim.end(DEFAULT_WEB_RID)


async def test_an_expired_owner_token_pauses_its_webhook(tmp_path: Path) -> None:
    hooks = WebhookSettings(allow_private=True, policy=FAST, sync_interval=0.3, timeout=5.0)
    async with SimServer(SimConfig(seed=4, rate=60.0, tick=0.05)) as sim:
        config = ServiceConfig(
            db=str(tmp_path / "e.sqlite3"),
            upstream=sim.base_url,
            signing="off",
            ranklist=False,
            webhook_settings=hooks,
        )
        async with (
            serving(config) as (base, svc),
            httpx.AsyncClient(base_url=base, timeout=30) as client,
            Receiver(secret=SECRET) as receiver,
        ):
            expires = time.time_ns() // 1_000_000 + 3000
            token = await tokens.create(svc.store, "short-lived", expires_at=expires)
            body = {"url": receiver.url, "secret": SECRET, "rooms": [DEFAULT_WEB_RID]}
            resp = await client.post("/api/webhooks", params={"token": token}, json=body)
            assert resp.status_code == 200, resp.text
            hook_id = resp.json()["data"]["id"]
            await until(lambda: receiver.all_ids(), 30, "deliveries while the token is valid")
            run = svc.webhooks.running[hook_id]
            await until(lambda: run.outbox.paused, 30, "the webhook paused at the expiry")
            assert time.time_ns() // 1_000_000 >= expires
            assert run.outbox.pause_reason == "the owner token is revoked or expired"
            resp = await client.get("/api/webhooks", params={"token": token})
            assert resp.status_code == 401 and "expired" in resp.json()["data"]["detail"]
            sim.end(DEFAULT_WEB_RID)

"""Long-lived deliveries follow their token's plan, on each backend: an open SSE stream ends with
an ``error`` event (40002) when its token is revoked and stops at a message quota (42902) after
exactly the quota's messages; a WebSocket feed stops at a message quota the same way (error
frame, close 4429; the douyinLive path too, and 4401 for a revoked token) and is refused at
connect when the quota is already used up; both poll their
room under the token's current room limit (a change takes effect while they are open); a
webhook pauses at its token's message quota and resumes, losing nothing, when it is raised."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson
import pytest
from support.receiver import Receiver
from support.waiting import until
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from dylive.deliver.outbox import OutboxPolicy
from dylive.deliver.webhooks import WebhookSettings
from dylive.serve import tokens
from dylive.serve.app import ServiceConfig
from dylive.sim import DEFAULT_WEB_RID, SimConfig, SimServer
from dylive.store import Quota, TokenChange

STREAM = f"/api/rooms/{DEFAULT_WEB_RID}/stream"
SECRET = "a-test-secret-0123456789"
FAST = OutboxPolicy(backoff_initial=0.02, backoff_max=0.2, idle_wait=1.0, scan_interval=0.5)


@pytest.fixture
async def served(store_url: str, serve_api: Any) -> AsyncIterator[tuple[str, Any]]:
    async with SimServer(SimConfig(seed=5, rate=80.0, tick=0.05)) as sim:
        config = ServiceConfig(
            db=store_url, upstream=sim.base_url, signing="off", ranklist=False, fleet=False
        )
        async with serve_api(config) as (base, svc):
            yield base, svc
            sim.end(DEFAULT_WEB_RID)


async def _sse(base: str, params: dict[str, str]) -> AsyncIterator[tuple[str, bytes]]:
    """(event name, data) of each SSE event until the stream ends."""
    async with (
        httpx.AsyncClient(base_url=base, timeout=30) as client,
        client.stream("GET", STREAM, params=params) as resp,
    ):
        assert resp.status_code == 200, await resp.aread()
        event, data = "message", b""
        async for line in resp.aiter_lines():
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: "):
                data = line[6:].encode()
            elif not line and data:
                yield event, data
                event, data = "message", b""


async def test_a_revoked_tokens_open_stream_ends_with_40002(served: Any) -> None:
    base, svc = served
    secret = await tokens.create(svc.store, "revoked-later")
    seen: list[tuple[str, bytes]] = []

    async def read() -> None:
        async for event in _sse(base, {"token": secret, "count": "0", "methods": "all"}):
            seen.append(event)

    task = asyncio.create_task(read())
    await until(lambda: any(e == "message" for e, _ in seen), 30, "messages streamed")
    assert await svc.store.revoke_token("revoked-later") == 1
    await asyncio.wait_for(task, 25)  # the stream ends by itself, before its 30 s max_duration
    event, data = seen[-1]
    assert event == "error"
    body = orjson.loads(data)
    assert body["code"] == 40002 and "revoked" in body["data"]["detail"]


async def test_a_stream_stops_at_the_message_quota_with_42902(served: Any) -> None:
    base, svc = served
    secret = await tokens.create(svc.store, "capped", quota=Quota(messages_per_day=25))
    events = [e async for e in _sse(base, {"token": secret, "count": "10", "methods": "all"})]
    messages = [d for e, d in events if e == "message"]
    assert len(messages) == 25  # exactly the quota: one node, one stream
    assert events[-1][0] == "error"
    body = orjson.loads(events[-1][1])
    assert body["code"] == 42902 and body["data"]["quota"] == "messages_per_day"
    assert body["data"]["limit"] == 25
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        resp = await client.get(STREAM, params={"token": secret})
    assert resp.status_code == 429  # the next connect is refused


async def _feed(
    base: str, secret: str, methods: str = "all"
) -> tuple[int, list[dict[str, Any]], int | None]:
    """(messages received, the frames, the close code) of one feed until it is closed."""
    url = base.replace("http://", "ws://") + f"/api/rooms/{DEFAULT_WEB_RID}/ws"
    frames: list[dict[str, Any]] = []
    count = 0
    async with connect(f"{url}?token={secret}&methods={methods}&count=10") as ws:
        with contextlib.suppress(ConnectionClosed):
            while True:
                frame = orjson.loads(await ws.recv())
                frames.append(frame)
                count += len(frame.get("messages", ()))
        return count, frames, ws.close_code


async def test_a_feed_stops_at_the_message_quota_with_4429(served: Any) -> None:
    base, svc = served
    secret = await tokens.create(svc.store, "capped-feed", quota=Quota(messages_per_month=33))
    count, frames, code = await _feed(base, secret)
    assert count == 33  # the batch that reaches the quota is cut to it
    assert svc.feeds.dylive.messages == 33  # what /metrics counts: those sent, not the batch's
    assert frames[-1]["type"] == "error" and frames[-1]["code"] == 42902
    assert frames[-1]["data"]["quota"] == "messages_per_month"
    assert code == 4429
    count, frames, code = await _feed(base, secret)  # used up: refused at connect
    assert count == 0 and frames[-1]["code"] == 42902 and code == 4429


async def test_a_feed_with_methods_counts_and_stops_at_the_messages_it_sends(served: Any) -> None:
    """Only the messages a feed sends (its ``methods``) are counted against the quota and
    metered: a feed of chats alone gets exactly the quota's chats, whatever else the room says."""
    base, svc = served
    secret = await tokens.create(svc.store, "chats-only", quota=Quota(messages_per_day=12))
    count, frames, code = await _feed(base, secret, "WebcastChatMessage")
    sent = [m for f in frames for m in f.get("messages", ())]
    assert count == 12 and {m["method"] for m in sent} == {"WebcastChatMessage"}
    assert frames[-1]["code"] == 42902 and code == 4429
    record = await svc.store.token_by_digest(tokens.digest(secret))
    assert record is not None
    assert (await svc.quotas.used(record)).messages_day == 12  # not the skipped ones


async def test_stream_and_feed_poll_under_the_tokens_current_room_limit(served: Any) -> None:
    base, svc = served
    token_id, secret = await tokens.create_record(svc.store, "growing", room_limit=3)
    limits: list[int] = []
    touch = svc.rooms.touch

    def spy(tid: int, room_limit: int, info: Any, live: bool) -> None:
        if tid == token_id:
            limits.append(room_limit)
        touch(tid, room_limit, info, live)

    svc.rooms.touch = spy
    url = base.replace("http://", "ws://") + f"/api/rooms/{DEFAULT_WEB_RID}/ws"

    async def stream() -> None:
        async for _ in _sse(base, {"token": secret, "count": "0"}):
            pass

    sse = asyncio.create_task(stream())
    try:
        async with connect(f"{url}?token={secret}") as ws:
            await until(lambda: limits.count(3) >= 2, 30, "stream and feed opened")
            assert await svc.store.update_token(token_id, TokenChange(room_limit=7))
            mark = len(limits)
            # the stream's status tick and the feed's re-check (2 s each) both poll with 7
            await until(lambda: limits[mark:].count(7) >= 2, 20, "polls under the new limit")
            await ws.close()
    finally:
        sse.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sse


async def test_a_webhook_pauses_at_its_tokens_message_quota_and_resumes_when_raised(
    store_url: str, serve_api: Any
) -> None:
    hooks = WebhookSettings(allow_private=True, policy=FAST, sync_interval=0.3, timeout=5.0)
    async with SimServer(SimConfig(seed=6, rate=60.0, tick=0.05)) as sim:
        config = ServiceConfig(
            db=store_url,
            upstream=sim.base_url,
            signing="off",
            ranklist=False,
            fleet=False,
            webhook_settings=hooks,
            usage_flush=0.2,
        )
        async with (
            serve_api(config) as (base, svc),
            httpx.AsyncClient(base_url=base, timeout=30) as client,
            Receiver(secret=SECRET) as receiver,
        ):
            token_id, secret = await tokens.create_record(
                svc.store, "hooked", quota=Quota(messages_per_day=40)
            )
            body = {"url": receiver.url, "secret": SECRET, "rooms": [DEFAULT_WEB_RID]}
            body["methods"] = ["all"]
            resp = await client.post("/api/webhooks", params={"token": secret}, json=body)
            assert resp.status_code == 200, resp.text
            run = svc.webhooks.running[resp.json()["data"]["id"]]
            await until(lambda: run.outbox.paused, 30, "the webhook paused at the quota")
            assert run.outbox.pause_reason.startswith("message quota used up: messages_per_day")
            assert len(receiver.all_ids()) >= 40
            print("delivered at the pause:", len(receiver.all_ids()))
            stopped = set(receiver.all_ids())
            resp = await client.get(f"/api/webhooks/{run.hook.id}", params={"token": secret})
            assert resp.status_code == 429  # the token's requests are refused the same way
            # raised: it resumes where it stopped, delivering what was stored meanwhile
            change = TokenChange(quota={"messages_per_day": 100_000})
            assert await svc.store.update_token(token_id, change)
            await until(lambda: not run.outbox.paused, 30, "resumed after the quota was raised")
            await until(lambda: len(receiver.all_ids()) > len(stopped) + 20, 30, "deliveries")
            assert stopped <= receiver.all_ids()
            for got in receiver.got.values():  # in order, no repeat: it went on where it stopped
                assert got == sorted(set(got), key=got.index)
            sim.end(DEFAULT_WEB_RID)


async def test_the_douyinlive_path_stops_at_the_message_quota_and_refuses_a_revoked_token(
    served: Any,
) -> None:
    base, svc = served
    secret = await tokens.create(svc.store, "dl", quota=Quota(messages_per_day=15))
    url = base.replace("http://", "ws://") + f"/ws/{DEFAULT_WEB_RID}"
    frames: list[dict[str, Any]] = []
    async with connect(f"{url}?token={secret}") as ws:
        with contextlib.suppress(ConnectionClosed):
            while True:
                frames.append(orjson.loads(await ws.recv()))
    messages = [f for f in frames if f.get("type") not in ("system", "error")]
    assert len(messages) == 15
    assert frames[-1]["type"] == "error" and frames[-1]["code"] == 42902
    assert ws.close_code == 4429
    other = await tokens.create(svc.store, "dl-revoked")
    async with connect(f"{url}?token={other}") as ws:
        await until(lambda: ws.recv(), 30, "a frame")
        assert await svc.store.revoke_token("dl-revoked") == 1
        with contextlib.suppress(ConnectionClosed):
            while True:
                last = orjson.loads(await asyncio.wait_for(ws.recv(), 20))
    assert last["type"] == "error" and last["code"] == 40002
    assert ws.close_code == 4401

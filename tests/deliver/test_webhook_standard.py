"""Standard Webhooks signatures (webhook-id, webhook-timestamp, webhook-signature) on real
deliveries to a local receiver, checked with the official ``standardwebhooks`` package: the
secret forms, a tampered body, timestamp or id refused, the id stable across retries and a dead
letter's replay, and secret rotation (both secrets during the grace period, then only the new
one) through the sink and through ``POST /api/webhooks/{id}/rotate-secret``."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from standardwebhooks import Webhook, WebhookVerificationError
from support.receiver import Receiver
from support.service import serving
from support.waiting import until

from dylive.deliver.http_post import Poster
from dylive.deliver.outbox import Batch, OutboxPolicy
from dylive.deliver.webhook_sink import (
    DeliveryFailed,
    WebhookSink,
    sign,
    standard_id,
    standard_key,
    standard_signature,
)
from dylive.deliver.webhooks import WebhookSettings, new_secret, secret_problem
from dylive.serve import tokens
from dylive.serve.app import ServiceConfig
from dylive.sim import DEFAULT_ROOM_ID, DEFAULT_WEB_RID, SimConfig, SimServer
from dylive.store import StoredMessage

OLD = "whsec_" + base64.b64encode(bytes(range(24))).decode()
NEW = "whsec_" + base64.b64encode(bytes(range(100, 132))).decode()
PLAIN = "a-plain-secret-0123456789"  # a secret from before the whsec_ form
BIG = 2**64 - 5


def batch(*ids: int, attempt: int = 1) -> Batch:
    messages = [
        StoredMessage(i, 77, msg_id, "WebcastChatMessage", 1, 2, b'{"msg_id":%d}' % msg_id)
        for i, msg_id in enumerate(ids, start=10)
    ]
    last = 9 + len(ids)
    return Batch("webhook:5", 77, messages, last, f"77-10-{last}", attempt)


def verifies(secret: str | bytes, headers: dict[str, str], body: bytes) -> bool:
    try:
        Webhook(secret).verify(body, headers)
    except WebhookVerificationError:
        return False
    return True


def now_ms() -> int:
    return int(time.time() * 1000)


# -- secrets -------------------------------------------------------------------------------------
def test_new_secrets_are_whsec_base64_of_32_bytes() -> None:
    made = {new_secret() for _ in range(50)}
    assert len(made) == 50
    for secret in made:
        assert secret.startswith("whsec_") and secret_problem(secret) is None
        key = base64.b64decode(secret.removeprefix("whsec_"), validate=True)
        assert len(key) == 32 and standard_key(secret) == key


def test_secret_forms_and_their_keys() -> None:
    assert standard_key(OLD) == bytes(range(24))
    assert standard_key(OLD.rstrip("=")) == bytes(range(24))  # padding optional
    assert standard_key(PLAIN) == PLAIN.encode()  # any other string: its UTF-8 bytes
    legacy = "whsec_" + "ab-_" * 8  # an older generated secret (url-safe alphabet)
    assert standard_key(legacy) == legacy.encode()
    assert secret_problem(PLAIN) is None and secret_problem(OLD) is None
    assert secret_problem("short") is not None
    assert "base64" in (secret_problem(legacy) or "")  # new whsec_ secrets must be the real form
    short_key = "whsec_" + base64.b64encode(b"x" * 16).decode()
    assert "24 to 64" in (secret_problem(short_key) or "")


def test_signature_is_what_the_official_library_computes() -> None:
    body = b'{"messages":[{"msg_id":18446744073709551611}]}'
    when = 1_764_648_000
    ours = standard_signature([OLD], "msg_5_77_10_12", when, body)
    theirs = Webhook(OLD).sign("msg_5_77_10_12", datetime.fromtimestamp(when, UTC), body.decode())
    assert ours == theirs
    both = standard_signature([NEW, OLD], "msg_5_77_10_12", when, body).split(" ")
    assert both[1] == theirs and both[0] != theirs and both[0].startswith("v1,")


def test_webhook_id_identifies_the_batch_not_the_attempt() -> None:
    first = standard_id(5, batch(1, 2, 3))
    assert first == "msg_5_77_10_12"
    assert standard_id(5, batch(1, 2, 3, attempt=4)) == first
    replayed = dataclasses.replace(batch(1, 2, 3), delivery_id="77-10-12-replay9", replay=True)
    assert standard_id(5, replayed) == first  # a dead letter's replay is the same delivery
    assert standard_id(6, batch(1, 2, 3)) != first and standard_id(5, batch(1, 2)) != first


# -- real deliveries through the sink ------------------------------------------------------------
async def deliver(rx: Receiver, sink_secret: str, **sink: Any) -> WebhookSink:
    async with Poster(5) as client:
        hook = WebhookSink(5, rx.url, sink_secret, client, allow_private=True, **sink)
        await hook.send(batch(1, BIG))
        return hook


async def test_delivery_verifies_with_the_library_and_keeps_the_legacy_header() -> None:
    async with Receiver(check=lambda h, b: verifies(OLD, h, b)) as rx:
        await deliver(rx, OLD)
        await deliver(rx, OLD)
    assert rx.requests == 2 and rx.bad_signatures == 0
    headers, body = rx.headers[0], rx.bodies[0]
    assert Webhook(OLD).verify(body, headers)["messages"][1]["msg_id"] == BIG  # exact digits
    assert headers["webhook-id"] == "msg_5_77_10_11" == rx.headers[1]["webhook-id"]
    assert headers["webhook-timestamp"] == headers["x-dylive-timestamp"]
    assert abs(int(headers["webhook-timestamp"]) - time.time()) < 3600
    assert (
        headers["webhook-signature"].startswith("v1,") and " " not in headers["webhook-signature"]
    )
    assert headers["x-dylive-signature"] == sign(OLD, body)  # unchanged for existing receivers
    assert "x-dylive-signature-previous" not in headers


async def test_a_plain_secret_verifies_as_bytes() -> None:
    async with Receiver(check=lambda h, b: verifies(PLAIN.encode(), h, b)) as rx:
        await deliver(rx, PLAIN)
    assert rx.bad_signatures == 0
    spec_form = "whsec_" + base64.b64encode(PLAIN.encode()).decode()
    assert verifies(spec_form, rx.headers[0], rx.bodies[0])


async def test_tampered_body_timestamp_or_id_is_refused() -> None:
    async with Receiver(check=lambda h, b: verifies(OLD, h, b)) as rx:
        await deliver(rx, OLD)
    headers, body = rx.headers[0], rx.bodies[0]
    assert verifies(OLD, headers, body)
    assert not verifies(OLD, headers, body.replace(b'"msg_id":1', b'"msg_id":2'))
    assert not verifies(OLD, headers, body + b" ")
    stamp = int(headers["webhook-timestamp"])
    assert not verifies(OLD, {**headers, "webhook-timestamp": str(stamp + 1)}, body)
    assert not verifies(OLD, {**headers, "webhook-id": "msg_5_77_10_12"}, body)
    assert not verifies(NEW, headers, body)  # another secret
    # a replay re-signed for an old timestamp is refused by the library's tolerance (5 minutes)
    old = stamp - 600
    replay = {**headers, "webhook-timestamp": str(old)}
    replay["webhook-signature"] = standard_signature([OLD], headers["webhook-id"], old, body)
    with pytest.raises(WebhookVerificationError, match="too old"):
        Webhook(OLD).verify(body, replay)


async def test_rotation_signs_with_both_during_grace_then_only_the_new() -> None:
    async with (
        Receiver(check=lambda h, b: verifies(OLD, h, b)) as old_rx,
        Receiver(check=lambda h, b: verifies(NEW, h, b)) as new_rx,
        Receiver(secret=OLD) as legacy_rx,  # X-Dylive-Signature(-Previous) with the old secret
        Poster(5) as client,
    ):
        grace = {"previous_secret": OLD, "previous_until": now_ms() + 3_600_000}
        sinks = [
            WebhookSink(5, rx.url, NEW, client, allow_private=True, **grace)  # type: ignore[arg-type]
            for rx in (old_rx, new_rx, legacy_rx)
        ]
        for sink in sinks:
            await sink.send(batch(1, 2))
        assert (old_rx.bad_signatures, new_rx.bad_signatures, legacy_rx.bad_signatures) == (0, 0, 0)
        headers, body = new_rx.headers[0], new_rx.bodies[0]
        assert len(headers["webhook-signature"].split(" ")) == 2
        assert headers["x-dylive-signature"] == sign(NEW, body)
        assert headers["x-dylive-signature-previous"] == sign(OLD, body)

        for sink in sinks:  # the grace period is over
            sink.rekey(NEW, OLD, now_ms() - 1)
            assert sink.secrets(now_ms()) == [NEW]
        with pytest.raises(DeliveryFailed, match="HTTP 401"):
            await sinks[0].send(batch(1, 2))
        await sinks[1].send(batch(1, 2))
        with pytest.raises(DeliveryFailed, match="HTTP 401"):
            await sinks[2].send(batch(1, 2))
        headers = new_rx.headers[-1]
        assert " " not in headers["webhook-signature"]
        assert "x-dylive-signature-previous" not in headers
        assert new_rx.bad_signatures == 0 and old_rx.bad_signatures == 1


# -- rotation through the API --------------------------------------------------------------------
FAST = OutboxPolicy(backoff_initial=0.02, backoff_max=0.2, idle_wait=1.0, scan_interval=0.5)


@pytest.fixture
async def live(tmp_path: Path) -> AsyncIterator[tuple[httpx.AsyncClient, Any, str]]:
    settings = WebhookSettings(allow_private=True, policy=FAST, sync_interval=0.3, timeout=5.0)
    async with SimServer(SimConfig(seed=5, rate=40.0, tick=0.05)) as sim:
        config = ServiceConfig(
            db=str(tmp_path / "r.sqlite3"), upstream=sim.base_url, webhook_settings=settings
        )
        async with (
            serving(config) as (base, svc),
            httpx.AsyncClient(base_url=base, timeout=30) as client,
        ):
            token = await tokens.create(svc.store, "rotate")
            yield client, svc, token
            sim.end(DEFAULT_WEB_RID)


class Seen:
    """Which secrets verified each request (the receiver acknowledges what the old one or the
    new one verifies: a receiver mid-rotation)."""

    def __init__(self) -> None:
        self.secrets: list[str] = []
        self.requests: list[tuple[bool, bool]] = []  # (old verifies, new verifies)

    def check(self, headers: dict[str, str], body: bytes) -> bool:
        results = tuple(verifies(s, headers, body) for s in self.secrets)
        self.requests.append((results[0], results[1] if len(results) > 1 else False))
        return any(results)

    def since(self, index: int) -> list[tuple[bool, bool]]:
        return self.requests[index:]


async def test_rotate_secret_route(live: Any) -> None:
    client, svc, token = live
    seen = Seen()
    async with Receiver(check=seen.check) as rx:
        resp = await client.post(
            "/api/webhooks",
            params={"token": token},
            json={"url": rx.url, "rooms": [DEFAULT_WEB_RID], "methods": ["all"]},
        )
        assert resp.status_code == 200, resp.text
        hook = resp.json()["data"]
        old = hook["secret"]
        assert hook["previous_secret_until"] == 0 and secret_problem(old) is None
        seen.secrets = [old]
        await until(lambda: rx.all_ids(DEFAULT_ROOM_ID), what="a delivery with the first secret")
        assert all(o for o, _ in seen.requests)

        path, params = f"/api/webhooks/{hook['id']}/rotate-secret", {"token": token}
        resp = await client.post(path, params=params, json={"grace_seconds": 3600})
        assert resp.status_code == 200, resp.text
        rotated = resp.json()["data"]
        new = rotated["secret"]
        assert new != old and new.startswith("whsec_")
        assert rotated["previous_secret_until"] > now_ms() + 3_500_000
        seen.secrets = [old, new]
        mark = len(seen.requests)
        await until(lambda: (True, True) in seen.since(mark), what="signed with both secrets")
        view = (await client.get(f"/api/webhooks/{hook['id']}", params=params)).json()["data"]
        assert view["previous_secret_until"] == rotated["previous_secret_until"]
        assert old not in str(view) and new not in str(view)

        # the grace period ends (stored as another process would: the service re-reads it)
        await svc.store.set_webhook_secret(hook["id"], new, old, now_ms() - 1)
        mark = len(seen.requests)
        await until(lambda: (False, True) in seen.since(mark), what="signed with the new only")
        tail = seen.since(seen.since(mark).index((False, True)) + mark)
        assert all(r == (False, True) for r in tail)  # never the old one again

        # rotating with a secret of one's own and no grace: the old one stops at once
        own = new_secret()
        resp = await client.post(path, params=params, json={"secret": own, "grace_seconds": 0})
        data = resp.json()["data"]
        assert resp.status_code == 200 and "secret" not in data
        assert data["previous_secret_until"] == 0
        seen.secrets = [new, own]
        mark = len(seen.requests)
        await until(lambda: (False, True) in seen.since(mark), what="signed with the own secret")
        stored = next(h for h in await svc.store.webhooks() if h.id == hook["id"])
        assert stored.secret == own and stored.previous_secret == ""


async def test_rotate_secret_refuses_bad_input(live: Any) -> None:
    client, _svc, token = live
    resp = await client.post(
        "/api/webhooks",
        params={"token": token},
        json={"url": "http://127.0.0.1:9/", "rooms": [DEFAULT_WEB_RID], "secret": OLD},
    )
    assert resp.status_code == 200, resp.text
    hook_id = resp.json()["data"]["id"]
    path, params = f"/api/webhooks/{hook_id}/rotate-secret", {"token": token}
    cases: list[tuple[Any, str]] = [
        ({"grace_seconds": -1}, "grace_seconds"),
        ({"grace_seconds": "60"}, "grace_seconds"),
        ({"grace_seconds": 31 * 86400}, "grace_seconds"),
        ({"secret": OLD}, "differ"),
        ({"secret": "short"}, "16 to 256"),
        ({"secret": "whsec_not base64 at all!!"}, "base64"),
        ({"secret": 12345678901234567890}, "string"),
        ([1, 2], "JSON object"),
    ]
    for body, words in cases:
        resp = await client.post(path, params=params, json=body)
        assert resp.status_code == 400, (body, resp.text)
        answer = resp.json()
        assert answer["code"] == 40005 and words in answer["data"]["detail"], (body, answer)
    other = await tokens.create(_svc.store, "other")
    resp = await client.post(path, params={"token": other}, json={})
    assert resp.status_code == 404 and resp.json()["code"] == 40403
    resp = await client.post("/api/webhooks/999/rotate-secret", params=params, json={})
    assert resp.status_code == 404 and resp.json()["code"] == 40403
    resp = await client.post(path, json={})
    assert resp.status_code == 401
    stored = next(h for h in await _svc.store.webhooks() if h.id == hook_id)
    assert stored.secret == OLD and stored.previous_secret == ""  # nothing changed


def test_legacy_signature_unchanged() -> None:
    body = b'{"x":1}'
    assert sign(OLD, body) == "sha256=" + hmac.new(OLD.encode(), body, hashlib.sha256).hexdigest()


async def test_retries_of_a_batch_keep_their_webhook_id(live: Any) -> None:
    client, _svc, token = live
    secret = new_secret()
    async with Receiver(check=lambda h, b: verifies(secret, h, b), fail=0.5, seed=7) as rx:
        resp = await client.post(
            "/api/webhooks",
            params={"token": token},
            json={"url": rx.url, "rooms": [DEFAULT_WEB_RID], "secret": secret, "batch_size": 5},
        )
        assert resp.status_code == 200, resp.text

        def retried() -> list[dict[str, str]]:
            return [h for h in rx.headers if h["x-dylive-attempt"] != "1"]

        await until(lambda: len(retried()) >= 3, what="retried batches")
        assert rx.bad_signatures == 0
        for again in retried():
            same = [h for h in rx.headers if h["x-dylive-delivery"] == again["x-dylive-delivery"]]
            assert {h["webhook-id"] for h in same} == {again["webhook-id"]}
            assert {h["x-dylive-attempt"] for h in same} >= {"1", again["x-dylive-attempt"]}
        ids = {h["webhook-id"] for h in rx.headers}
        deliveries = {h["x-dylive-delivery"] for h in rx.headers}
        assert len(ids) == len(deliveries)  # one id per batch, a different one for each batch

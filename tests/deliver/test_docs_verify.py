"""docs/delivery.md's verification example, run as written against real deliveries: both
functions accept what dylive signs with the secret (a generated whsec_ secret, a plain one, an
older url-safe whsec_ one, both secrets during a rotation's grace period) and refuse another
secret, a tampered body, and the old secret once the grace period is over."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

from support.receiver import Receiver

from dylive.deliver.http_post import Poster
from dylive.deliver.outbox import Batch
from dylive.deliver.webhook_sink import WebhookSink
from dylive.deliver.webhooks import new_secret
from dylive.store import StoredMessage

DOC = Path(__file__).resolve().parents[2] / "docs" / "delivery.md"
PLAIN = "my-own-secret-from-2025"
URL_SAFE = "whsec_Zm9v-YmFy_" + "a" * 16  # generated before secrets were standard base64
BIG = 2**64 - 7


def example() -> dict[str, Any]:
    text = DOC.read_text(encoding="utf-8")
    found = re.search(r"<!-- verify-example.*?-->\n```python\n(.*?)```", text, re.S)
    assert found, "the verification example is missing from docs/delivery.md"
    namespace: dict[str, Any] = {}
    exec(compile(found.group(1), str(DOC), "exec"), namespace)
    return namespace


def batch() -> Batch:
    rendered = b'{"method":"WebcastChatMessage","msg_id":%d,"payload":{"content":"hi"}}' % BIG
    message = StoredMessage(4, 77, BIG, "WebcastChatMessage", 1, 2, rendered)
    return Batch("webhook:9", 77, [message], 4, "77-4-4")


async def one_request(secret: str, **sink: Any) -> tuple[dict[str, str], bytes]:
    """What a receiver gets from a sink signing with ``secret`` (and ``sink`` options)."""
    async with (
        Receiver(check=lambda _h, _b: True) as rx,
        Poster(5) as client,
    ):
        await WebhookSink(9, rx.url, secret, client, allow_private=True, **sink).send(batch())
    return rx.headers[0], rx.bodies[0]


async def test_the_documented_functions_verify_real_deliveries() -> None:
    doc = example()
    verified, verified_legacy = doc["verified"], doc["verified_legacy"]
    generated, other = new_secret(), new_secret()
    for secret in (generated, PLAIN, URL_SAFE):
        headers, body = await one_request(secret)
        data = verified(secret, headers, body)
        assert data is not None and data["messages"][0]["msg_id"] == BIG
        assert verified_legacy(secret, headers, body)
        assert verified(other, headers, body) is None and not verified_legacy(other, headers, body)
        tampered = body.replace(b'"hi"', b'"ho"')
        assert verified(secret, headers, tampered) is None
        assert not verified_legacy(secret, headers, tampered)
        # header names in another case (as some frameworks hand them over)
        assert verified(secret, {k.title(): v for k, v in headers.items()}, body) is not None
        assert verified_legacy(secret, {k.upper(): v for k, v in headers.items()}, body)


async def test_during_and_after_a_rotation() -> None:
    doc = example()
    verified, verified_legacy = doc["verified"], doc["verified_legacy"]
    old, new = new_secret(), new_secret()
    now = int(time.time() * 1000)
    headers, body = await one_request(new, previous_secret=old, previous_until=now + 60_000)
    for secret in (old, new):  # a receiver not switched yet, and one switched already
        assert verified(secret, headers, body) is not None
        assert verified_legacy(secret, headers, body)
    headers, body = await one_request(new, previous_secret=old, previous_until=now - 1)
    assert verified(new, headers, body) is not None and verified_legacy(new, headers, body)
    assert verified(old, headers, body) is None and not verified_legacy(old, headers, body)

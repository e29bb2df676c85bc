"""The webhook receiver example of docs/delivery.md, run as written: it verifies dylive's POSTs
with the Standard Webhooks library, refuses a wrong secret and a tampered body, prints each
message once even when a batch is sent twice, and during a secret rotation a receiver with the
old secret and one with the new both verify (after the grace period only the new one)."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import re
import socket
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from support.receiver import Receiver

from dylive.deliver.http_post import Poster
from dylive.deliver.outbox import Batch
from dylive.deliver.webhook_sink import DeliveryFailed, WebhookSink
from dylive.store import StoredMessage

README = Path(__file__).resolve().parents[2] / "docs" / "delivery.md"  # the receiver example
OLD = "whsec_" + base64.b64encode(bytes(range(32))).decode()
NEW = "whsec_" + base64.b64encode(bytes(range(64, 96))).decode()


def example() -> str:
    text = README.read_text(encoding="utf-8")
    found = re.search(r"<!-- receiver-example.*?-->\n```python\n(.*?)```", text, re.S)
    assert found, "the receiver example is missing from docs/delivery.md"
    return found.group(1)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.asynccontextmanager
async def running(script: Path, secret: str) -> AsyncIterator[tuple[str, list[str]]]:
    """The example listening with ``secret``; yields its URL and, once stopped, its output."""
    port = free_port()
    env = {**os.environ, "WEBHOOK_SECRET": secret, "PORT": str(port)}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(script), env=env, stdout=asyncio.subprocess.PIPE
    )
    lines: list[str] = []
    try:
        yield f"http://127.0.0.1:{port}/", lines
    finally:
        proc.terminate()
        out, _ = await proc.communicate()
        lines.extend(out.decode().splitlines())


async def until_listening(sink: WebhookSink, batch: Batch) -> None:
    for _ in range(200):  # until the example listens
        try:
            await sink.send(batch)
            return
        except DeliveryFailed as exc:
            if "HTTP" in str(exc):
                raise
            await asyncio.sleep(0.05)
    pytest.fail("the example never answered")


async def test_readme_receiver_example(tmp_path: Path) -> None:
    code = example()
    assert len(code.strip().splitlines()) <= 16
    script = tmp_path / "receiver.py"
    script.write_text(code, encoding="utf-8")
    rendered = (
        b'{"method":"WebcastChatMessage","msg_id":18446744073709551600,"payload":{"content":"hi"}}'
    )
    message = StoredMessage(1, 77, 18446744073709551600, "WebcastChatMessage", 1, 2, rendered)
    batch = Batch("webhook:1", 77, [message], 1, "77-1-1")
    async with (
        running(script, OLD) as (old_url, old_out),
        running(script, NEW) as (new_url, new_out),
        httpx.AsyncClient(timeout=5) as client,
        Poster(5) as poster,
    ):
        sink = WebhookSink(1, old_url, OLD, poster, allow_private=True)
        await until_listening(sink, batch)
        await sink.send(batch)  # a duplicate: acknowledged, not printed again
        wrong = WebhookSink(1, old_url, "x" * 20, poster, allow_private=True)
        with pytest.raises(DeliveryFailed, match="HTTP 401"):
            await wrong.send(batch)

        # rotated to NEW: during the grace period both receivers verify
        now = int(time.time() * 1000)
        grace = {"previous_secret": OLD, "previous_until": now + 60_000}
        to_old = WebhookSink(1, old_url, NEW, poster, allow_private=True, **grace)  # type: ignore[arg-type]
        to_new = WebhookSink(1, new_url, NEW, poster, allow_private=True, **grace)  # type: ignore[arg-type]
        await to_old.send(batch)
        await until_listening(to_new, batch)
        # after it, only the receiver switched to NEW
        to_old.rekey(NEW, OLD, now - 1)
        to_new.rekey(NEW, OLD, now - 1)
        with pytest.raises(DeliveryFailed, match="HTTP 401"):
            await to_old.send(batch)
        await to_new.send(batch)

        # a tampered body is refused
        async with Receiver(check=lambda _h, _b: True) as rx:
            await WebhookSink(1, rx.url, NEW, poster, allow_private=True).send(batch)
        headers = {k: v for k, v in rx.headers[0].items() if k.startswith("webhook-")}
        tampered = rx.bodies[0].replace(b'"hi"', b'"ho"')
        request = client.build_request("POST", new_url, content=tampered, headers=headers)
        assert (await client.send(request)).status_code == 401
        request = client.build_request("POST", new_url, content=rx.bodies[0], headers=headers)
        assert (await client.send(request)).status_code == 204  # the untampered one passes
    assert old_out == ["WebcastChatMessage hi"]
    assert new_out == ["WebcastChatMessage hi"]

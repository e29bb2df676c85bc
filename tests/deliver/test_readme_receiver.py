"""The README's webhook receiver example, run as written: it accepts dylive's signed POSTs,
refuses a wrong signature, and prints each message once even when a batch is sent twice."""

from __future__ import annotations

import asyncio
import os
import re
import socket
import sys
from pathlib import Path

import httpx
import pytest

from dylive.deliver.outbox import Batch
from dylive.deliver.webhook_sink import DeliveryFailed, WebhookSink
from dylive.store import StoredMessage

README = Path(__file__).resolve().parents[2] / "README.md"
SECRET = "readme-secret-0123456789"


def example() -> str:
    text = README.read_text(encoding="utf-8")
    found = re.search(r"<!-- receiver-example.*?-->\n```python\n(.*?)```", text, re.S)
    assert found, "the receiver example is missing from the README"
    return found.group(1)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def test_readme_receiver_example(tmp_path: Path) -> None:
    code = example()
    assert len(code.strip().splitlines()) <= 16
    script = tmp_path / "receiver.py"
    script.write_text(code, encoding="utf-8")
    port = free_port()
    env = {**os.environ, "WEBHOOK_SECRET": SECRET, "PORT": str(port)}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(script), env=env, stdout=asyncio.subprocess.PIPE
    )
    rendered = (
        b'{"method":"WebcastChatMessage","msg_id":18446744073709551600,"payload":{"content":"hi"}}'
    )
    message = StoredMessage(1, 77, 18446744073709551600, "WebcastChatMessage", 1, 2, rendered)
    batch = Batch("webhook:1", 77, [message], 1, "77-1-1")
    try:
        async with httpx.AsyncClient(timeout=5) as client:
            sink = WebhookSink(1, f"http://127.0.0.1:{port}/", SECRET, client, allow_private=True)
            for _ in range(200):  # until the example listens
                try:
                    await sink.send(batch)
                    break
                except DeliveryFailed:
                    await asyncio.sleep(0.05)
            else:
                pytest.fail("the example never answered")
            await sink.send(batch)  # a duplicate: acknowledged, not printed again
            wrong = WebhookSink(
                1, f"http://127.0.0.1:{port}/", "x" * 20, client, allow_private=True
            )
            with pytest.raises(DeliveryFailed, match="HTTP 401"):
                await wrong.send(batch)
    finally:
        proc.terminate()
        out, _ = await proc.communicate()
    assert out.decode().splitlines() == ["WebcastChatMessage hi"]

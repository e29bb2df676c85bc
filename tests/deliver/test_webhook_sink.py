"""One webhook POST against a real local receiver: the body and signature, and what counts as a
failure (non-2xx, a redirect, which is not followed, a huge answer read only in part, a timeout,
a private target refused at send time); and ``dylive webhook add|list|remove``."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import orjson
import pytest
from support.receiver import Receiver

from dylive.cli import main
from dylive.deliver.http_post import Poster
from dylive.deliver.outbox import Batch
from dylive.deliver.targets import TargetRefused
from dylive.deliver.webhook_sink import DeliveryFailed, WebhookSink, sign, verify, webhook_body
from dylive.serve import tokens
from dylive.store import StoredMessage, open_store

SECRET = "sink-test-secret-0123456789"
BIG = 2**64 - 5


def batch(*ids: int) -> Batch:
    messages = [
        StoredMessage(i, 77, msg_id, "WebcastChatMessage", 1, 2, b'{"msg_id":%d}' % msg_id)
        for i, msg_id in enumerate(ids, start=1)
    ]
    return Batch("webhook:5", 77, messages, len(ids), f"77-1-{len(ids)}")


def test_body_splices_rendered_messages_and_is_signed() -> None:
    body = webhook_body(5, batch(1, BIG), 1234)
    data = orjson.loads(body)
    assert data == {
        "webhook_id": 5,
        "room_id": 77,
        "delivery_id": "77-1-2",
        "sent_at": 1234,
        "messages": [{"msg_id": 1}, {"msg_id": BIG}],
    }
    assert b'{"msg_id":%d}' % BIG in body  # exact digits
    assert sign(SECRET, body).startswith("sha256=") and verify(SECRET, body, sign(SECRET, body))
    assert not verify(SECRET, body + b" ", sign(SECRET, body))


async def send(
    rx: Receiver, *, read_timeout: float = 5.0, allow_private: bool = True
) -> WebhookSink:
    async with Poster(read_timeout) as client:
        sink = WebhookSink(5, rx.url, SECRET, client, allow_private=allow_private)
        await sink.send(batch(1, 2, 3))
        return sink


async def test_a_2xx_acknowledges() -> None:
    async with Receiver(secret=SECRET) as rx:
        sink = await send(rx)
    assert rx.got == {77: [1, 2, 3]} and sink.last_status == 200
    headers = rx.headers[0]
    assert headers["x-dylive-delivery"] == "77-1-3" and headers["x-dylive-attempt"] == "1"
    assert headers["host"] == f"127.0.0.1:{rx.port}" and SECRET not in repr(sink)


@pytest.mark.parametrize(
    ("mode", "message"),
    [("fail", "HTTP 503: try later"), ("redirect", "HTTP 302 (redirects are not followed)")],
)
async def test_failures(mode: str, message: str) -> None:
    async with Receiver(secret=SECRET, mode=mode) as rx:
        with pytest.raises(DeliveryFailed) as failed:
            await send(rx)
    assert str(failed.value) == message and rx.got == {}


async def test_a_huge_answer_is_read_only_in_part() -> None:
    async with Receiver(secret=SECRET, mode="huge") as rx:
        with pytest.raises(DeliveryFailed) as failed:
            await send(rx)
    assert str(failed.value).startswith("HTTP 500: xxx") and len(str(failed.value)) < 300


async def test_a_hanging_receiver_times_out() -> None:
    async with Receiver(secret=SECRET, mode="hang") as rx:
        started = time.monotonic()
        with pytest.raises(DeliveryFailed, match="ReadTimeout"):
            await send(rx, read_timeout=0.5)
    assert time.monotonic() - started < 30


async def test_a_private_target_is_refused_at_send_time() -> None:
    async with Receiver(secret=SECRET) as rx:
        with pytest.raises(TargetRefused):
            await send(rx, allow_private=False)
    assert rx.requests == 0


def test_webhook_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = str(tmp_path / "cli.sqlite3")

    async def make_token() -> None:
        async with open_store(db) as store:
            await tokens.create(store, "ops")

    asyncio.run(make_token())
    url = "http://127.0.0.1:9/hook"
    assert main(["webhook", "add", "--db", db, "--token", "ops", "--url", url, "--room", "x!"]) == 2
    capsys.readouterr()
    args = ["webhook", "add", "--db", db, "--token", "ops", "--url", url, "--room", "123456"]
    assert main(args) == 1  # a loopback target is refused without the option
    assert "allow-private-webhooks" in capsys.readouterr().err
    assert main([*args, "--allow-private-webhooks", "--methods", "chat,gift"]) == 0
    out = capsys.readouterr().out
    secret = out.split("secret (shown only now): ")[1].strip()
    assert out.startswith("webhook 1 added") and secret.startswith("whsec_")
    secret_file = tmp_path / "secret"
    secret_file.write_text("my-own-secret-0123456789\n")
    own = [*args, "--allow-private-webhooks", "--secret-file", str(secret_file)]
    assert main(own) == 0
    assert "secret" not in capsys.readouterr().out
    assert main(["webhook", "list", "--db", db]) == 0
    listing = capsys.readouterr().out
    assert "123456" in listing and "chat,gift" in listing and url in listing
    assert secret not in listing and "my-own-secret" not in listing
    assert main(["webhook", "remove", "--db", db, "1"]) == 0
    assert main(["webhook", "remove", "--db", db, "1"]) == 1
    assert (
        main(
            [
                "webhook",
                "add",
                "--db",
                db,
                "--token",
                "nobody",
                "--url",
                url,
                "--room",
                "123456",
                "--allow-private-webhooks",
            ]
        )
        == 1
    )

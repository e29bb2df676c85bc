"""The NATS publisher of a single node (one outbox for every room) publishes a new room's first
messages as soon as the service tells it they are stored (``NatsPublisher.notify``, called on
each local commit), not at the outbox's next scan of the rooms."""

from __future__ import annotations

import contextlib
import uuid
from pathlib import Path

import nats
import orjson
import pytest
from support.waiting import until

from dylive.deliver.nats import NatsPublisher
from dylive.deliver.outbox import OutboxPolicy
from dylive.store import Record, SQLiteStore

pytestmark = pytest.mark.timeout(60)

NATS_URL = "nats://127.0.0.1:4222"
CHAT = "WebcastChatMessage"


def rec(room: int, msg_id: int) -> Record:
    return Record(room, msg_id, CHAT, 1, orjson.dumps({"method": CHAT, "msg_id": msg_id}), b"")


async def published(stream: str) -> int:
    nc = await nats.connect(NATS_URL, allow_reconnect=False)
    try:
        return int((await nc.jetstream().stream_info(stream)).state.messages)
    except nats.js.errors.NotFoundError:
        return 0
    finally:
        await nc.close()


async def test_a_new_room_is_published_when_notified_not_at_the_next_scan(tmp_path: Path) -> None:
    try:
        probe = await nats.connect(NATS_URL, connect_timeout=3, allow_reconnect=False)
    except Exception as exc:
        pytest.skip(f"NATS unreachable at {NATS_URL}: {exc}")
    tag = uuid.uuid4().hex[:10]
    stream, prefix = f"DYLIVE_N_{tag}", f"dylive_n_{tag}.room"
    policy = OutboxPolicy(batch_size=500, batch_ms=0, idle_wait=60, scan_interval=60)
    try:
        async with SQLiteStore(tmp_path / "n.sqlite3") as store:
            await store.append([rec(1, 1)])  # a room known when the outbox starts
            publisher = NatsPublisher(
                store, f"{NATS_URL}?stream={stream}&prefix={prefix}", policy=policy
            )
            await publisher.start()
            try:
                await until(lambda: published(stream), 20)  # the first room's message: 1
                await store.append([rec(2, 10), rec(2, 11)])  # a room new to the outbox
                publisher.notify(2)
                # well inside the 60 s scan interval (without the hint: not before it)
                await until(lambda: _has(stream, 3), 20)
            finally:
                await publisher.stop()
    finally:
        with contextlib.suppress(nats.js.errors.NotFoundError):
            await probe.jetstream().delete_stream(stream)
        await probe.close()


async def _has(stream: str, count: int) -> bool:
    return await published(stream) == count

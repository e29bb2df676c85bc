"""The webhook runner over a real SQLite store and a real receiver: a sync that comes in the
middle of a registration starts no second outbox (which would deliver the room from its first
stored message), and a stored batch reaches the receiver on its commit, not on a poll."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path
from typing import Any

import orjson
from support.receiver import Receiver
from support.waiting import until

from dylive.deliver.outbox import OutboxPolicy
from dylive.deliver.webhooks import WebhookService, WebhookSettings
from dylive.serve import tokens
from dylive.store import EventStore, Record, WebhookRecord, open_store

SECRET = "registry-secret-0123456789"
ROOM = 7_300_000_000_000_000_001
#: no poll would deliver within a test: only a commit's wake-up can
SLOW_POLLS = OutboxPolicy(batch_ms=0, idle_wait=3600.0, scan_interval=3600.0)


def rec(msg_id: int) -> Record:
    body = orjson.dumps({"method": "WebcastChatMessage", "msg_id": msg_id})
    return Record(ROOM, msg_id, "WebcastChatMessage", 1, body, b"")


class GatedPositions:
    """The real store, except that setting a consumer position waits for ``gate``."""

    def __init__(self, store: EventStore) -> None:
        self._store = store
        self.gate = asyncio.Event()
        self.waiting = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    async def set_consumer_position(self, consumer: str, room_id: int, seq: int) -> None:
        self.waiting += 1
        await self.gate.wait()
        await self._store.set_consumer_position(consumer, room_id, seq)


async def keeper(hook: WebhookRecord, ident: str) -> int:
    return ROOM


def outbox_tasks(hook_id: int) -> int:
    return sum(t.get_name() == f"outbox-webhook:{hook_id}" for t in asyncio.all_tasks())


async def test_a_sync_during_a_registration_starts_no_second_outbox(tmp_path: Path) -> None:
    async with open_store(str(tmp_path / "r.sqlite3")) as store, Receiver(secret=SECRET) as rx:
        token_id, _ = await tokens.create_record(store, "t")
        await store.append([rec(i) for i in range(1, 6)])  # stored before the webhook
        gated = GatedPositions(store)
        settings = WebhookSettings(allow_private=True, policy=SLOW_POLLS, sync_interval=3600)
        svc = WebhookService(gated, settings, keeper=keeper)  # type: ignore[arg-type]
        record = WebhookRecord(0, token_id, rx.url, SECRET, (str(ROOM),), ())
        try:
            start = {ROOM: await store.last_seq(ROOM)}
            registering = asyncio.create_task(svc.register(record, start))
            await until(lambda: gated.waiting, what="the registration sets its positions")
            syncing = asyncio.create_task(svc.sync())
            lock: Any = getattr(svc, "_changing", None)  # the registry's lock: the sync waits
            await until(
                lambda: syncing.done() or bool(lock and lock._waiters), what="the sync ran or waits"
            )
            gated.gate.set()
            hook = await registering
            await syncing
            assert outbox_tasks(hook.id) == 1
            await store.append([rec(i) for i in range(6, 9)])
            await until(lambda: rx.all_ids() >= {6, 7, 8}, what="the new messages delivered")
            assert rx.all_ids() == {6, 7, 8}  # nothing stored before the webhook
        finally:
            await svc.stop()


async def test_a_commit_wakes_the_delivery_without_a_poll(tmp_path: Path) -> None:
    async with open_store(str(tmp_path / "c.sqlite3")) as store, Receiver(secret=SECRET) as rx:
        token_id, _ = await tokens.create_record(store, "t")
        policy = dataclasses.replace(SLOW_POLLS, batch_ms=50)
        settings = WebhookSettings(allow_private=True, policy=policy, sync_interval=3600)
        svc = WebhookService(store, settings, keeper=keeper)
        try:
            record = WebhookRecord(0, token_id, rx.url, SECRET, (str(ROOM),), (), batch_ms=50)
            await svc.register(record, {ROOM: 0})
            for first in (1, 11, 21):  # each after the outbox went back to waiting
                await store.append([rec(i) for i in range(first, first + 10)])
                wanted = set(range(first, first + 10))
                await until(lambda w=wanted: w <= rx.all_ids(), 30, what="delivered on commit")
        finally:
            await svc.stop()

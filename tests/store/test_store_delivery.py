"""The delivery tables (outbox positions, dead letters, webhooks) and the Outbox over both backends."""

from __future__ import annotations

import asyncio
import functools
import random
from collections.abc import Callable

import orjson
import psycopg
import pytest
from support.waiting import until

from dylive.deliver.outbox import Batch, Outbox, OutboxPolicy, letter_messages
from dylive.errors import StoreError
from dylive.store import DeadLetter, EventStore, Page, Record, WebhookRecord, open_store
from dylive.store.postgres import PostgresStore

ROOM = 2**63 + 77  # beyond signed 64 bits
ROOM2 = 7001
CHAT = "WebcastChatMessage"
LIKE = "WebcastLikeMessage"

Factory = Callable[[], EventStore]


@pytest.fixture
def make(store_url: str) -> Factory:
    return functools.partial(open_store, store_url)


def rec(msg_id: int, room: int = ROOM, method: str = CHAT) -> Record:
    body = orjson.dumps({"method": method, "msg_id": msg_id})
    return Record(room, msg_id, method, 1, body, b"")


async def test_positions_move_forward_only_and_survive_reopen(make: Factory) -> None:
    async with make() as store:
        assert await store.consumer_positions("webhook:1") == {}
        await store.set_consumer_position("webhook:1", ROOM, 10)
        await store.set_consumer_position("webhook:1", ROOM, 5)
        await store.set_consumer_position("webhook:1", ROOM2, 3)
        await store.set_consumer_position("nats:x", ROOM, 99)
    async with make() as store:
        assert await store.consumer_positions("webhook:1") == {ROOM: 10, ROOM2: 3}
        await store.drop_consumer("webhook:1")
        assert await store.consumer_positions("webhook:1") == {}
        assert await store.consumer_positions("nats:x") == {ROOM: 99}


async def test_dead_letter_moves_the_position_in_the_same_write(make: Factory) -> None:
    async with make() as store:
        letter = DeadLetter(0, "c", ROOM, 4, 9, 2, "HTTP 500", 7, 0, b"[1,2]")
        letter_id = await store.add_dead_letter(letter)
        assert await store.consumer_positions("c") == {ROOM: 9}
        (got,) = await store.dead_letters("c")
        assert got.id == letter_id and got.room_id == ROOM and got.body == b"[1,2]"
        assert (got.first_seq, got.last_seq, got.count, got.attempts) == (4, 9, 2, 7)
        assert got.created_at > 0 and await store.count_dead_letters("c") == 1
        assert await store.dead_letter("c", letter_id) == got
        assert await store.dead_letter("other", letter_id) is None
        assert not await store.delete_dead_letter("other", letter_id)
        assert await store.delete_dead_letter("c", letter_id)
        assert await store.dead_letters("c") == []


async def test_webhooks_crud_and_delete_drops_the_consumer(make: Factory) -> None:
    async with make() as store:
        hook = WebhookRecord(0, 5, "https://example.com/h", "s3cret", ("123", "abc"), (CHAT,))
        hook_id = await store.create_webhook(hook)
        other = await store.create_webhook(WebhookRecord(0, 6, "https://e.org", "x", ("1",)))
        (got,) = await store.webhooks(token_id=5)
        assert got.id == hook_id and got.rooms == ("123", "abc") and got.methods == (CHAT,)
        assert got.secret == "s3cret" and "s3cret" not in repr(got)
        assert [h.id for h in await store.webhooks()] == [hook_id, other]
        await store.set_webhook_paused(hook_id, 1234, "down")
        assert (await store.webhooks(5))[0].paused_at == 1234
        await store.set_consumer_position(f"webhook:{hook_id}", ROOM, 3)
        assert await store.delete_webhook(hook_id)
        assert not await store.delete_webhook(hook_id)
        assert await store.consumer_positions(f"webhook:{hook_id}") == {}
        assert [h.id for h in await store.webhooks()] == [other]


class FlakySink:
    """Fails a fraction of sends; records every message it acknowledged, in order."""

    def __init__(self, fail: float = 0.0, seed: int = 1) -> None:
        self.fail = fail
        self.rng = random.Random(seed)
        self.got: dict[int, list[int]] = {}
        self.attempts = 0

    async def send(self, batch: Batch) -> None:
        self.attempts += 1
        if self.rng.random() < self.fail:
            raise RuntimeError("receiver said 503")
        self.got.setdefault(batch.room_id, []).extend(m.msg_id for m in batch.messages)


FAST = OutboxPolicy(batch_size=7, batch_ms=20, backoff_initial=0.01, backoff_max=0.05)


async def test_every_message_at_least_once_in_order_across_a_restart(make: Factory) -> None:
    sink = FlakySink(fail=0.3)
    async with make() as store:
        await store.append([rec(i) for i in range(1, 41)] + [rec(i, ROOM2) for i in range(1, 21)])
        outbox = Outbox(store, "webhook:9", sink, rooms=[ROOM, ROOM2], policy=FAST)
        await outbox.start()
        await until(lambda: len(sink.got.get(ROOM, [])) >= 20, 20)
        await outbox.stop()  # mid-way, possibly mid-batch
    async with make() as store:
        await store.append([rec(i) for i in range(41, 61)])
        outbox = Outbox(store, "webhook:9", sink, rooms=[ROOM, ROOM2], policy=FAST)
        await outbox.start()
        await until(lambda: set(sink.got.get(ROOM, [])) >= set(range(1, 61)), 20)
        await until(lambda: set(sink.got.get(ROOM2, [])) >= set(range(1, 21)), 20)
        await until(lambda: _caught_up(store, outbox), 20)
        await outbox.stop()
        positions = await store.consumer_positions("webhook:9")
        assert positions[ROOM] == await store.last_seq(ROOM)
    for room, count in ((ROOM, 60), (ROOM2, 20)):
        got = sink.got[room]
        firsts = list(dict.fromkeys(got))  # order of first arrival
        assert firsts == list(range(1, count + 1))
    assert outbox.stats.retried > 0 and sink.attempts > outbox.stats.batches


async def test_new_messages_wake_the_outbox_and_methods_filter(make: Factory) -> None:
    sink = FlakySink()
    async with make() as store:
        outbox = Outbox(
            store,
            "nats:t",
            sink,
            rooms=None,
            methods=frozenset({CHAT}),
            policy=OutboxPolicy(batch_ms=0, idle_wait=30, scan_interval=30),
        )
        await outbox.start()
        await store.append([rec(1), rec(2, method=LIKE), rec(3)])
        outbox.notify(ROOM)  # a new room: picked up now, not at the next scan
        await until(lambda: sink.got.get(ROOM) == [1, 3], 20)
        await store.append([rec(4, method=LIKE)])
        await until(lambda: _caught_up(store, outbox), 20)
        await store.append([rec(5)])
        await until(lambda: sink.got.get(ROOM) == [1, 3, 5], 20)
        await outbox.stop()


async def test_a_room_notified_while_the_rooms_are_listed_is_picked_up_at_once(
    make: Factory,
) -> None:
    """The listing answers from before the append's commit and returns after ``notify``: the
    notify must not be lost (it was: cleared after the listing, the room waited a scan)."""
    sink = FlakySink()
    listed, release = asyncio.Event(), asyncio.Event()
    async with make() as store:

        async def rooms() -> set[int]:
            heads = set(await store.room_heads())
            if not listed.is_set():  # the first listing, held past the append and the notify
                listed.set()
                await release.wait()
            return heads

        slow = OutboxPolicy(batch_ms=0, idle_wait=3600, scan_interval=3600)
        outbox = Outbox(store, "nats:t", sink, rooms=rooms, policy=slow)
        await outbox.start()
        await until(listed.is_set, 20, what="the first listing")
        await store.append([rec(1)])
        outbox.notify(ROOM)
        release.set()
        await until(lambda: sink.got.get(ROOM) == [1], 20, what="the notified room delivered")
        await outbox.stop()


async def test_an_append_between_the_read_and_the_wait_wakes_the_room(make: Factory) -> None:
    """The room loop found nothing, an append commits (and its wake-up fires) before the loop
    waits: the wait sees the new head instead of sleeping idle_wait (the store's ``wait_for``
    registers its signal before it checks the head; this guards that window)."""
    sink = FlakySink()
    held, release = asyncio.Event(), asyncio.Event()
    async with make() as store:
        real_read = store.read

        async def read(
            room_id: int, after_seq: int, limit: int, methods: frozenset[str] | None = None
        ) -> Page:
            page = await real_read(room_id, after_seq, limit, methods)
            if not page.messages and not held.is_set():  # the first empty read: held
                held.set()
                await release.wait()
            return page

        store.read = read  # type: ignore[method-assign]
        slow = OutboxPolicy(batch_ms=0, idle_wait=3600, scan_interval=3600)
        outbox = Outbox(store, "nats:t", sink, rooms=[ROOM], policy=slow)
        await outbox.start()
        await until(held.is_set, 20, what="the room loop read nothing")
        await store.append([rec(1)])
        release.set()
        await until(lambda: sink.got.get(ROOM) == [1], 20, what="the append delivered")
        await outbox.stop()


@pytest.mark.postgres
async def test_a_room_waiting_when_the_listener_drops_polls_until_it_is_back(
    pg_url: str, pg_admin: psycopg.Connection[tuple[object, ...]]
) -> None:
    """Another node's commit while this one's LISTEN connection is down (and cannot come back):
    the room loop, already waiting for a NOTIFY, re-checks every poll_interval instead of
    sleeping idle_wait (it slept on: only the reconnection woke it)."""
    sink = FlakySink()
    async with PostgresStore(pg_url, poll_interval=0.05) as store, open_store(pg_url) as other:
        slow = OutboxPolicy(batch_ms=0, idle_wait=3600, scan_interval=3600)
        outbox = Outbox(store, "nats:t", sink, rooms=[ROOM], policy=slow)
        await outbox.start()
        await until(lambda: store.waiting, 20, what="the room loop waits")

        async def refused() -> None:
            raise StoreError("refused (test)", transient=True)

        store._connect = refused  # type: ignore[method-assign]  # the listener stays down
        assert store._lconn is not None
        pg_admin.execute("SELECT pg_terminate_backend(%s)", (store._lconn.info.backend_pid,))
        await until(lambda: not store._listening, 20, what="the listener is down")
        await other.append([rec(1)])  # its NOTIFY reaches nobody here
        await until(lambda: sink.got.get(ROOM) == [1], 20, what="delivered while not listening")
        await outbox.stop()


async def test_a_run_of_unwanted_rows_longer_than_one_read_is_skipped(make: Factory) -> None:
    """A read scans a bounded number of rows: past a longer run of rows the consumer does not
    want, the room goes on from where the skip moved its position (it read again from its last
    delivery: the same rows, forever, in a busy loop that delivered nothing more)."""
    sink = FlakySink()
    likes = 30_000  # past both backends' bound with batch_size=1 (4,000 and ~26,000 rows)
    async with make() as store:
        for first in range(1, likes + 1, 5_000):
            await store.append([rec(i, method=LIKE) for i in range(first, first + 5_000)])
        await store.append([rec(likes + 1)])
        policy = OutboxPolicy(batch_size=1, batch_ms=0)
        chat = frozenset({CHAT})
        outbox = Outbox(store, "nats:t", sink, rooms=[ROOM], methods=chat, policy=policy)
        await outbox.start()
        await until(lambda: sink.got.get(ROOM) == [likes + 1], 20, what="the chat row delivered")
        await outbox.stop()


async def _caught_up(store: EventStore, outbox: Outbox) -> bool:
    """The position covers the room's last row (a skipped LIKE moves it too)."""
    return outbox.positions().get(ROOM) == await store.last_seq(ROOM)


async def test_permanent_failure_dead_letters_then_replay(make: Factory) -> None:
    sink = FlakySink(fail=1.0)
    policy = OutboxPolicy(
        batch_size=5,
        batch_ms=0,
        backoff_initial=0.01,
        backoff_max=0.02,
        dead_after=0.1,
        pause_after=3600,
    )
    async with make() as store:
        await store.append([rec(i) for i in range(1, 8)])
        outbox = Outbox(store, "webhook:3", sink, rooms=[ROOM], policy=policy)
        await outbox.start()
        await until(lambda: outbox.stats.dead_lettered == 7, 20)
        letters = await store.dead_letters("webhook:3")
        assert [d.count for d in letters] == [5, 2]
        assert "503" in letters[0].error and letters[0].attempts >= 2
        assert [m.msg_id for m in letter_messages(letters[0])] == [1, 2, 3, 4, 5]
        assert (await store.consumer_positions("webhook:3"))[ROOM] == letters[1].last_seq
        assert await outbox.replay(letters[0].id) == "receiver said 503"
        sink.fail = 0.0
        assert await outbox.replay(letters[0].id) is None
        assert sink.got[ROOM] == [1, 2, 3, 4, 5]
        assert [d.id for d in await store.dead_letters("webhook:3")] == [letters[1].id]
        assert await outbox.replay(letters[0].id) == "no such dead letter"
        await outbox.stop()


async def test_long_failure_pauses_and_resume_delivers(make: Factory) -> None:
    sink = FlakySink(fail=1.0)
    paused: list[str] = []

    async def on_pause(reason: str) -> None:
        paused.append(reason)

    policy = OutboxPolicy(batch_ms=0, backoff_initial=0.01, backoff_max=0.02, pause_after=0.1)
    async with make() as store:
        await store.append([rec(1), rec(2)])
        outbox = Outbox(store, "webhook:4", sink, rooms=[ROOM], policy=policy, on_pause=on_pause)
        await outbox.start()
        await until(lambda: outbox.paused, 20)
        assert paused and "503" in paused[0]
        sink.fail = 0.0
        outbox.resume()
        await until(lambda: sink.got.get(ROOM) == [1, 2], 20)
        assert await store.dead_letters("webhook:4") == []
        await outbox.stop()

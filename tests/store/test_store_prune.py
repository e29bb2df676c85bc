"""Message retention (``EventLog.prune``) on both backends: the older messages go in bounded
batches, each its own write, so appends commit in between; newer messages, the tail cache and
reads after an old cursor stay right."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import orjson

from dylive.store import EventStore, Record, StoredMessage, open_store
from dylive.store.tail import TailCache

ROOM = 6922580638159719176
OTHER = 2**63 + 12345
CHAT = "WebcastChatMessage"


def rec(msg_id: int, room: int = ROOM) -> Record:
    body = orjson.dumps({"method": CHAT, "msg_id": msg_id, "payload": {"room_id": room}})
    return Record(room, msg_id, CHAT, 1, body, b"raw%d" % msg_id)


async def past(store: EventStore, room: int) -> int:
    """A cutoff after every stored message of ``room``, once the clock has passed it (so that
    what is appended next is stored after it)."""
    page = await store.read(room, 0, 10_000)
    cutoff = max(m.stored_at for m in page.messages) + 1
    deadline = time.monotonic() + 5
    while time.time_ns() // 1_000_000 <= cutoff:
        assert time.monotonic() < deadline, "the clock did not move"
        await asyncio.sleep(0.001)
    return cutoff


def count_writes(store: EventStore) -> list[int]:
    """Count the writes submitted to the store's writer (one item per write)."""
    writes: list[int] = []
    submit = store._submit  # type: ignore[attr-defined]

    async def counted(*args: Any, **kw: Any) -> Any:
        writes.append(1)
        return await submit(*args, **kw)

    store._submit = counted  # type: ignore[attr-defined]
    return writes


async def test_prune_deletes_every_older_message_in_batches_and_nothing_newer(
    store_url: str,
) -> None:
    async with open_store(store_url) as store:
        await store.append([rec(i) for i in range(1, 11)])
        await store.append([rec(i, OTHER) for i in range(1, 6)])
        old = await store.read(ROOM, 0, 100)  # the room's tail is cached from here
        cutoff = await past(store, OTHER)
        await store.append([rec(i) for i in range(11, 15)])
        await store.append([rec(i, OTHER) for i in range(6, 8)])
        writes = count_writes(store)
        assert await store.prune(cutoff, batch=4) == 15
        assert len(writes) == 4  # 4 + 4 + 4 + 3 rows: a batch short of 4 ends it
        assert [m.msg_id for m in (await store.read(ROOM, 0, 100)).messages] == [11, 12, 13, 14]
        assert [m.msg_id for m in (await store.read(OTHER, 0, 100)).messages] == [6, 7]
        # a cursor from before the prune: only what is still stored, from the tail or SQL
        cursor = old.messages[3].seq
        after = await store.read(ROOM, cursor, 100)
        assert [m.msg_id for m in after.messages] == [11, 12, 13, 14]
        joined = await store.read_joined(ROOM, cursor, 100)
        assert joined.size == 4 and joined.last_msg_id == 14
        assert await store.prune(cutoff, batch=4) == 0
        assert await store.prune(2**62, batch=1) == 6
        assert (await store.read(ROOM, 0, 100)).messages == []
        await store.append([rec(15)])
        page = await store.read(ROOM, old.messages[-1].seq, 100)
        assert [m.msg_id for m in page.messages] == [15]


async def test_appends_commit_between_the_batches_of_a_prune(store_url: str) -> None:
    async with open_store(store_url) as store:
        await store.append([rec(i) for i in range(1, 61)])
        cutoff = await past(store, ROOM)
        appended: list[int] = []
        pruning = asyncio.create_task(store.prune(cutoff, batch=1))

        async def collect() -> None:  # as collection does: one batch, waiting for its commit
            msg_id = 1000
            while not pruning.done():
                msg_id += 1
                await store.append([rec(msg_id, OTHER)])
                if not pruning.done():
                    appended.append(msg_id)

        await asyncio.wait_for(asyncio.gather(pruning, collect()), 60)
        assert pruning.result() == 60
        # one DELETE would have let at most the appends queued beside it in; 60 writes of a
        # row each let collection's appends commit in between
        assert len(appended) >= 10
        assert (await store.read(ROOM, 0, 100)).messages == []
        kept = [m.msg_id for m in (await store.read(OTHER, 0, 1000)).messages]
        assert kept[: len(appended)] == appended  # every append committed during it is kept


def test_the_tail_never_caches_pruned_rows_again() -> None:
    """After ``forget``, a page read before the delete (installed late) or a sync that fetched
    before it (extended late) adds none of the deleted rows; newer ones still go in."""

    def row(seq: int, room: int = 1) -> StoredMessage:
        return StoredMessage(seq, room, seq, CHAT, 1, 1, b"{}")

    tail = TailCache(size=8)
    tail.install(1, [row(s) for s in (3, 5, 7)], 0)
    tail.forget(6)
    assert tail.after(1, 5, 10) == [row(7)] and tail.after(1, 4, 10) is None
    tail.install(2, [row(s, 2) for s in (2, 4, 6, 8)], 0)  # read before the delete
    assert tail.after(2, 5, 10) == [row(6, 2), row(8, 2)] and tail.after(2, 3, 10) is None
    tail.forget(20)
    tail.extend([row(9), row(21)], frozenset({1}))  # 9: fetched before the delete
    assert tail.after(1, 7, 10) is None and tail.after(1, 19, 10) == [row(21)]

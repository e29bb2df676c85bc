"""The meter on a real store: counts are written once, whatever happens to a flush (cancelled
while its write is in flight, or failing), and a stop writes what is left."""

from __future__ import annotations

import asyncio
from pathlib import Path

from dylive.app.quotas import Quotas
from dylive.app.usage import Meter
from dylive.errors import StoreError
from dylive.store import Quota, SQLiteStore, TokenRecord


async def stored_requests(store: SQLiteStore) -> int:
    return sum(row.requests for row in await store.usage(None, 0, 2**62))


async def test_a_cancelled_flush_writes_its_counts_once(tmp_path: Path) -> None:
    async with SQLiteStore(tmp_path / "m.sqlite3") as store:
        meter = Meter(store, interval=60)
        total = 0
        for round_ in range(30):
            for i in range(round_ + 1):
                meter.count(1, "chat", 200 if i % 3 else 40005, messages=2, nbytes=10)
                total += 1
            flush = asyncio.create_task(meter.flush())
            for _ in range(round_ % 4):  # cancelled at different points of the write
                await asyncio.sleep(0)
            flush.cancel()
            await asyncio.gather(flush, return_exceptions=True)
        await meter.flush()
        assert meter.pending() == []
        assert await stored_requests(store) == total
        messages = sum(r.messages for r in await store.usage(1, 0, 2**62))
        assert messages == 2 * total


async def test_a_failed_flush_keeps_its_counts_and_stop_writes_the_rest(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "m.sqlite3")
    meter = Meter(store, interval=60)
    meter.count(1, "rooms", 200)
    try:
        await meter.flush()  # the store is not open: refused
    except StoreError:
        pass
    else:
        raise AssertionError("a flush into a closed store succeeded")
    assert meter.flush_failures == 1 and len(meter.pending()) == 1
    await store.open()
    meter.start()
    meter.count(1, "rooms", 200)
    meter.room(1, 2**63 + 1)
    await meter.stop()
    assert await stored_requests(store) == 2
    assert await store.usage_rooms(1, 0, 2**62) == [(1, meter.hour(), 2**63 + 1)]
    await store.close()


async def test_the_quota_book_counts_this_process_and_rereads_the_store(tmp_path: Path) -> None:
    async with SQLiteStore(tmp_path / "q.sqlite3") as store:
        meter = Meter(store, interval=60)
        book = Quotas(store, meter)
        record = TokenRecord(7, "t", "d" * 64, 0, 0.0, 0, quota=Quota(requests_per_day=5))
        # another node's flushed counts are in the store already
        other = Meter(store, interval=60)
        for _ in range(3):
            other.count(7, "chat", 200)
        await other.flush()
        assert await book.check(record) is None
        meter.count(7, "chat", 200)
        meter.count(7, "chat", 40005)  # not billable
        assert (await book.used(record)).requests_day == 4
        meter.count(7, "chat", 200)
        refusal = await book.check(record)
        assert refusal is not None and refusal.quota == "requests_per_day"
        assert refusal.used == 5 and refusal.limit == 5
        # flushed and re-read: the same figure, not counted twice
        await meter.flush()
        await book.refresh()
        assert (await book.used(record)).requests_day == 5
        standing = book.standing(record)
        assert standing is not None and standing.remaining == 0 and standing.limit == 5

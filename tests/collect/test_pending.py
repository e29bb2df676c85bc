"""A room's pending queue (dylive.collect.pending): FIFO, bounded, one batch taken at once."""

from __future__ import annotations

import asyncio

from support.waiting import until

from dylive.collect.pending import Pending


async def test_take_returns_what_was_queued_in_order_up_to_the_limit() -> None:
    queue = Pending(10)
    for i in range(5):
        assert queue.put_nowait(i)
    assert await queue.take(3) == [0, 1, 2]
    assert await queue.take(10) == [3, 4]
    assert len(queue) == 0


async def test_take_waits_for_the_first_item() -> None:
    queue = Pending(10)
    taken = asyncio.create_task(queue.take(10))
    await asyncio.sleep(0)
    assert not taken.done()
    queue.put_nowait("a")
    queue.put_nowait("b")  # queued before the taker runs: taken with the first
    assert await asyncio.wait_for(taken, 5) == ["a", "b"]


async def test_a_full_queue_refuses_put_nowait_and_put_waits_until_a_take() -> None:
    queue = Pending(2)
    assert queue.put_nowait(1) and queue.put_nowait(2)
    assert not queue.put_nowait(3)
    put = asyncio.create_task(queue.put(3))
    await asyncio.sleep(0)
    assert not put.done() and len(queue) == 2
    assert await queue.take(1) == [1]
    await until(put.done, 5, what="the waiting put")
    assert await queue.take(10) == [2, 3]


async def test_a_cancelled_put_queues_nothing_and_leaves_no_waiter() -> None:
    queue = Pending(1)
    queue.put_nowait(1)
    put = asyncio.create_task(queue.put(2))
    await asyncio.sleep(0)
    put.cancel()
    await asyncio.gather(put, return_exceptions=True)
    assert await queue.take(10) == [1]
    assert queue.put_nowait(3)
    assert await queue.take(10) == [3]


async def test_a_cancelled_take_does_not_swallow_the_next_item() -> None:
    queue = Pending(10)
    taken = asyncio.create_task(queue.take(10))
    await asyncio.sleep(0)
    taken.cancel()
    await asyncio.gather(taken, return_exceptions=True)
    queue.put_nowait("x")
    assert await queue.take(10) == ["x"]


async def test_no_limit_when_zero_as_asyncio_queue() -> None:
    queue = Pending(0)
    assert all(queue.put_nowait(i) for i in range(1000))
    assert len(await queue.take(5000)) == 1000


async def test_entries_weigh_their_events_in_the_bound_and_the_take() -> None:
    queue = Pending(10)
    assert queue.put_nowait("a", 4) and queue.put_nowait("b", 4)
    assert len(queue) == 8
    assert not queue.put_nowait("c", 3)  # 11 would pass the bound
    assert queue.put_nowait("c", 2)
    assert await queue.take(7) == ["a"]  # "b" would make 8: left for the next take
    assert await queue.take(7) == ["b", "c"] and len(queue) == 0


async def test_an_entry_heavier_than_the_bound_goes_in_alone_and_is_taken_whole() -> None:
    queue = Pending(5)
    assert queue.put_nowait("big", 12)  # an empty queue takes it: no deadlock on a big frame
    assert not queue.put_nowait("x", 1)
    assert await queue.take(3) == ["big"] and len(queue) == 0

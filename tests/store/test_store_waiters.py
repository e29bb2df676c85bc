"""The long-poll waiter registry (``store/waiters.py``): a wake resolves every waiter of its room
and no other; a deadline resolves False, never before it; one timer per deadline bucket;
cancelled waiters are dropped (no registry growth on a room that never commits)."""

from __future__ import annotations

import asyncio

from support.waiting import until

from dylive.store.waiters import GRANULARITY, Waiters

ROOM = 6922580638159719176


async def test_a_wake_resolves_its_rooms_waiters_only() -> None:
    waiters = Waiters()
    first, second = waiters.wait(ROOM, 30), waiters.wait(ROOM, 30)
    other = waiters.wait(ROOM + 1, 30)
    waiters.wake(ROOM)
    assert await first and await second
    assert not other.done() and len(waiters) == 1
    waiters.wake_all()
    assert await other and len(waiters) == 0


async def test_a_deadline_resolves_false_never_early() -> None:
    waiters = Waiters()
    loop = asyncio.get_running_loop()
    started = loop.time()
    future = waiters.wait(ROOM, 0.05)
    assert not await asyncio.wait_for(future, 10)
    # the bucket's end, rounded up: not before the deadline (a loop's clock may round to 1 ms)
    assert loop.time() - started >= 0.05 - 0.002
    assert len(waiters) == 0 and waiters.rooms() == 0


async def test_an_infinite_wait_has_no_timer() -> None:
    waiters = Waiters()
    future = waiters.wait(ROOM, float("inf"))
    assert not waiters._buckets
    waiters.wake(ROOM)
    assert await future


async def test_waits_of_one_bucket_share_one_timer() -> None:
    waiters = Waiters()
    loop = asyncio.get_running_loop()
    # deadlines in the same bucket: the bucket's middle, so that both round to its end
    start = loop.time()
    base = (int(start / GRANULARITY) + 2.5) * GRANULARITY - start
    futures = [waiters.wait(ROOM + i, base + i * 1e-4) for i in range(50)]
    assert len(waiters._buckets) == 1
    assert not any(await asyncio.gather(*futures))


async def test_cancelled_waiters_are_dropped() -> None:
    """A long-poll whose client went away leaves no entry behind on a quiet room."""
    waiters = Waiters()
    task = asyncio.create_task(_wait(waiters, 0.05))
    await until(lambda: len(waiters) == 1, 10, what="the task waits")
    task.cancel()
    await until(lambda: task.done(), 10, what="the task is cancelled")
    await until(lambda: waiters.rooms() == 0 and not waiters._buckets, 10, what="dropped")
    waiters.wake(ROOM)  # nothing to wake, nothing raised


async def _wait(waiters: Waiters, within: float) -> bool:
    return await waiters.wait(ROOM, within)

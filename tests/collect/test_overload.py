"""The global pending bound (dylive.collect.budget): memory bounded across rooms, nothing lost.

The reproduction: at 500 rooms the service grew to 3.2 GB, each room queueing up to 50,000
messages while the store fell behind. Here a store held shut stands for the store that cannot
keep up: the readers of every room stop at the one global bound (not at rooms × the per-room
bound), upstream keeps emitting, and once the store works again every message the simulator
emitted is stored exactly once (upstream replays what was left unread).
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from support.overload import HeldStore, assert_exact, stored_ids
from support.simkit import FAST
from support.waiting import until

from dylive.collect import Budget, Tuning
from dylive.collect.rooms import RoomManager, collector_source, default_resolver
from dylive.sim import DEFAULT_WEB_RID, SimConfig, SimServer


# -- the budget alone ------------------------------------------------------------------------
async def test_waiting_readers_are_let_go_oldest_first_once_the_total_fell_to_resume_at() -> None:
    budget = Budget(10, resume_at=0.5, hold=60.0)
    await budget.take(10, room_id=1)
    order: list[int] = []

    async def reader(room_id: int) -> None:
        await budget.take(2, room_id)
        order.append(room_id)

    tasks = [asyncio.create_task(reader(r)) for r in (2, 3, 4)]
    await until(lambda: budget.snapshot().waiting == 3, 5, what="three readers waiting")
    assert budget.overloaded and budget.paused_rooms() == {2, 3, 4}
    budget.give(4)  # 6 pending: above resume_at (5), nobody goes yet
    await asyncio.sleep(0)
    assert order == [] and budget.snapshot().waiting == 3
    budget.give(2)  # 4 pending: the oldest go while they fit under the limit (4 + 2 + 2 + 2)
    await asyncio.gather(*tasks)
    assert order == [2, 3, 4] and budget.pending == 10
    assert budget.snapshot().waits == 3 and budget.peak == 10
    assert budget.overloaded  # within ``hold`` of the last wait
    assert budget.problem().startswith("overloaded: 10 events")


async def test_a_cancelled_waiter_gives_nothing_back_and_blocks_nobody() -> None:
    budget = Budget(4, resume_at=0.5, hold=0.0)
    await budget.take(4)
    first = asyncio.create_task(budget.take(3, room_id=1))
    second = asyncio.create_task(budget.take(1, room_id=2))
    await until(lambda: budget.snapshot().waiting == 2, 5, what="two waiting")
    first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first
    assert budget.paused_rooms() == {2}
    budget.give(4)
    await second
    assert budget.pending == 1
    budget.give(1)
    assert budget.pending == 0 and not budget.overloaded  # hold 0: over once nobody waits


async def test_try_take_takes_only_what_needs_no_wait() -> None:
    """The reader's per-event path: granted at once while it fits and nobody waits; otherwise
    nothing is taken and ``take`` queues the reader behind the others."""
    budget = Budget(3, resume_at=0.5, hold=0.0)
    assert budget.try_take(2) and budget.pending == 2
    assert not budget.try_take(2) and budget.pending == 2  # would pass the limit
    waiter = asyncio.create_task(budget.take(2, room_id=1))
    await until(lambda: budget.snapshot().waiting == 1, 5, what="a reader waiting")
    assert not budget.try_take(1) and budget.pending == 2  # fits, but someone waits first
    budget.give(2)
    await waiter
    assert budget.pending == 2 and budget.snapshot().waiting == 0
    assert budget.try_take(1) and budget.pending == 3


async def test_a_take_bigger_than_the_limit_goes_through_alone() -> None:
    budget = Budget(5)
    await budget.take(8)  # a frame bigger than the whole bound never deadlocks
    assert budget.pending == 8 and not budget.overloaded
    budget.give(8)
    unbounded = Budget(0)
    await unbounded.take(10**9)
    assert not unbounded.overloaded


async def test_a_lagging_event_loop_squeezes_every_reader_until_it_recovers() -> None:
    budget = Budget(100, hold=0.0)
    budget.observe(1.5, lag_limit=1.0)  # the CPU is taken: readers wait although 0 is pending
    assert budget.squeezed and budget.overloaded
    assert budget.problem().startswith("overloaded: event loop lag 1.50 s")
    waiter = asyncio.create_task(budget.take(1, room_id=9))
    await until(lambda: budget.paused_rooms() == {9}, 5, what="the reader waits")
    budget.observe(0.7, lag_limit=1.0)  # better, not calm (> half the limit): still squeezed
    budget.observe(0.1, lag_limit=1.0, relax_after=0.0)  # calm from now on
    assert budget.squeezed
    budget.observe(0.1, lag_limit=1.0, relax_after=0.0)  # calm for relax_after: let go
    await waiter
    assert not budget.squeezed and budget.pending == 1
    budget.give(1)
    assert not budget.overloaded


async def test_watch_measures_the_lag_of_a_blocked_loop() -> None:
    budget = Budget(100)
    watching = asyncio.create_task(budget.watch(0.05, every=0.01, relax_after=60.0))
    try:
        await asyncio.sleep(0)  # the watch takes its first start time
        busy_until = time.monotonic() + 0.2
        while time.monotonic() < busy_until:  # the loop gets no CPU (a hog), not a wait
            pass
        await until(lambda: budget.squeezed, 5, what="squeezed by the lag")
        assert budget.snapshot().squeezed and budget.overloaded  # until calm for relax_after
    finally:
        watching.cancel()


# -- rooms sharing it --------------------------------------------------------------------------
async def test_readers_of_every_room_stop_at_the_global_bound_and_lose_nothing(
    tmp_path: Path,
) -> None:
    limit, per_room = 120, 400
    async with (
        SimServer(SimConfig(seed=24, rate=80.0, tick=0.05)) as sim,
        HeldStore(tmp_path / "o.sqlite3") as store,
    ):
        web_rids = [DEFAULT_WEB_RID, *(str(900_000_000_100 + i) for i in range(3))]
        for web_rid in web_rids[1:]:
            sim.create_room(web_rid)
        budget = Budget(limit, hold=0.2)
        rooms = RoomManager(
            store,
            resolver=default_resolver(upstream=sim.base_url, signing="off"),
            source_factory=collector_source(upstream=sim.base_url, options=FAST),
            tuning=Tuning(max_pending=per_room, batch_size=20, budget=budget),
        )
        await rooms.start(web_rids)
        try:
            states = list(rooms.rooms.values())
            assert len(states) == len(web_rids)
            await until(lambda: all(s.stored > 20 for s in states), 60, what="all collecting")
            store.open_gate.clear()  # the store stops keeping up
            held = {w: len(sim.log(w)) for w in web_rids}
            await until(
                lambda: budget.snapshot().waiting == len(states), 60, what="every reader paused"
            )
            # upstream emitted far more than the bound meanwhile: more than one room may queue
            await until(
                lambda: all(len(sim.log(w)) > held[w] + limit for w in web_rids),
                60,
                what="upstream went on emitting",
            )
            pending = sum(s.pending for s in states)
            assert budget.pending == pending <= limit < len(states) * per_room
            assert budget.overloaded and budget.paused_rooms() == {s.room_id for s in states}
            assert budget.problem().startswith(f"overloaded: {pending} events")
            store.open_gate.set()  # the load drops
            marks = {w: int(sim.log(w)[-1]["msg_id"]) for w in web_rids}

            async def caught_up() -> bool:
                for state in states:
                    mark = marks[state.info.web_rid]
                    if mark not in await stored_ids(store, state.room_id):
                        return False
                return True

            await until(caught_up, 90, what="every room caught up after the overload")
            await until(lambda: not budget.overloaded, 30, what="overload cleared")
            assert budget.peak <= limit
        finally:
            await rooms.stop()
        assert budget.pending == 0  # every unit came back (stored, or dropped at stop)
        for state in states:
            assert_exact(sim.log(state.info.web_rid), await stored_ids(store, state.room_id))

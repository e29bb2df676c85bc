"""A room whose lease is lost while it is being stopped says so in one line (issue 22, 6b).

Reproduction: a node whose database link was cut recovered with 0 lost, but logged a
``LeaseLost`` "Task exception was never retrieved" traceback: when the link came back, the
fleet tick stopped the room (lease lost) in the same turn of the event loop as the room's
writer failed with ``LeaseLost``, and the stopping pipeline dropped the finished writer without
looking at it. This test makes that turn happen on purpose: the room task is cancelled (what
``RoomManager.stop_room`` does) by a callback of the writer task, so the cancellation arrives
before the pipeline sees the writer's failure.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import sqlite3
from pathlib import Path

import pytest
from support.waiting import until

from dylive.collect import Tuning
from dylive.collect.rooms import RoomManager, collector_source, default_resolver
from dylive.sim import DEFAULT_ROOM_ID, DEFAULT_WEB_RID, SimConfig, SimServer
from dylive.store import Fence, SQLiteStore


def writer_task(room_id: int) -> asyncio.Task[None] | None:
    name = f"dylive-writer-{room_id}"
    return next((t for t in asyncio.all_tasks() if t.get_name() == name), None)


async def test_a_lease_lost_while_stopping_is_one_warning_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "f.sqlite3"
    async with (
        SimServer(SimConfig(seed=45, rate=60.0, tick=0.05)) as sim,
        SQLiteStore(path) as store,
    ):
        lease = sqlite3.connect(path, isolation_level=None)  # the lease row, as FleetDB keeps it
        lease.execute(
            "INSERT INTO fleet_rooms (room_id, owner, epoch) VALUES (?, 'cut', 1)",
            (DEFAULT_ROOM_ID,),
        )
        rooms = RoomManager(
            store,
            resolver=default_resolver(upstream=sim.base_url, signing="off"),
            source_factory=collector_source(upstream=sim.base_url),
            tuning=Tuning(retry_initial=0.02, retry_cap=0.1),
        )
        state = await rooms.start_leased(DEFAULT_WEB_RID, DEFAULT_ROOM_ID, Fence("cut", 1))
        assert state is not None and state.task is not None
        try:
            await until(lambda s=state: s.stored > 0, 60, what="storing under the lease")
            writer = writer_task(DEFAULT_ROOM_ID)
            assert writer is not None
            room_task = state.task
            writer.add_done_callback(lambda _, t=room_task: t.cancel())  # stop_room, same turn
            with caplog.at_level(logging.INFO):
                lease.execute("UPDATE fleet_rooms SET owner = 'other', epoch = 2")  # taken over
                await until(room_task.done, 60, what="the room stopped")
        finally:
            lease.close()
            await rooms.stop()
        del writer, room_task, state, rooms
        gc.collect()  # an unretrieved task exception is reported when the task is collected
    records = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert not [r for r in records if "never retrieved" in r.getMessage()], records
    assert not [r for r in records if r.exc_info], records  # no traceback
    refused = [r for r in records if "write refused" in r.getMessage()]
    assert len(refused) == 1 and refused[0].levelno == logging.WARNING, records


async def test_stopping_a_room_never_eats_the_callers_cancellation(tmp_path: Path) -> None:
    """Reproduction: SIGTERM while the fleet tick was stopping a room whose lease was lost
    (``RoomManager.stop_room``): the tick task's cancellation was swallowed with the room task's
    (``suppress(CancelledError)`` around awaiting it), the tick loop went on, and the node never
    exited. The stopping task is cancelled here while it waits for the room to stop."""
    async with (
        SimServer(SimConfig(seed=46, rate=60.0, tick=0.05)) as sim,
        SQLiteStore(tmp_path / "s.sqlite3") as store,
    ):
        rooms = RoomManager(
            store,
            resolver=default_resolver(upstream=sim.base_url, signing="off"),
            source_factory=collector_source(upstream=sim.base_url),
        )
        await rooms.start([DEFAULT_WEB_RID])
        try:
            state = rooms.rooms[DEFAULT_ROOM_ID]
            await until(lambda: state.stored > 0, 60, what="storing")
            stopping = asyncio.create_task(rooms.stop_room(DEFAULT_ROOM_ID))
            await asyncio.sleep(0)  # its first step: the room task cancelled, now awaited
            assert state.task is not None and state.task.cancelling() and not stopping.done()
            stopping.cancel()  # SIGTERM reaches the task that is stopping the room
            await asyncio.wait({stopping}, timeout=30)
            assert stopping.cancelled(), "the cancellation was swallowed"
            assert state.task is not None and state.task.done()
        finally:
            await rooms.stop()

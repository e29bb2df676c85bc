"""Ingestion on the batch path: a source with ``batches()`` hands a delivery's events at once
with the checkpoint after them; the budget and the room's queue take each batch as one entry
weighing its events, and the writer stores entries with the position of the last one."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

from support.waiting import until

from dylive.collect import Budget, Ingest, RoomState, Tuning
from dylive.decode.direct import Rendered
from dylive.source import GapEvent
from dylive.source.room import RoomInfo
from dylive.source.transport import Checkpoint
from dylive.store import Record, SQLiteStore, UpstreamPosition

ROOM = 7_000_000_000_000_000_002


def rendered(i: int) -> Rendered:
    body = b'{"method":"WebcastChatMessage","msg_id":%d,"payload":{}}' % i
    return Rendered("WebcastChatMessage", i, ROOM, 1_700_000_000_000 + i, b"\x08\x01", body)


def checkpoint(i: int) -> Checkpoint:
    return Checkpoint(f"c{i}", f"seq:{i}", "", "push", i)


class BatchSource:
    """Three deliveries (the first after a gap, the last bigger than a store batch), then
    nothing more (the room stays live)."""

    checkpoint: Checkpoint | None = None  # what a one-event source would show: never read here

    async def batches(self) -> AsyncIterator[tuple[list[Any], Checkpoint]]:
        yield [GapEvent(ROOM, 1, 2, "replay", missed=7), *map(rendered, (1, 2, 3))], checkpoint(3)
        yield [GapEvent(ROOM, 3, 4, "replay", missed=2)], checkpoint(3)  # a gap alone
        yield [rendered(4), rendered(5)], checkpoint(5)
        yield [rendered(i) for i in range(6, 31)], checkpoint(30)
        await asyncio.Event().wait()

    def __aiter__(self) -> AsyncIterator[Any]:
        raise AssertionError("a source with batches() is read by batch")


class RecordingStore(SQLiteStore):
    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.appends: list[tuple[int, UpstreamPosition | None]] = []

    async def append(
        self,
        records: Sequence[Record],
        *,
        position: UpstreamPosition | None = None,
        fence: Any = None,
    ) -> int:
        self.appends.append((len(records), position))
        return await super().append(records, position=position, fence=fence)


async def test_batches_are_stored_whole_with_the_position_of_their_last_event(
    tmp_path: Path,
) -> None:
    store = RecordingStore(tmp_path / "batches.sqlite3")
    state = RoomState(RoomInfo("1", ROOM, 2), pinned=True)
    budget = Budget(16)

    @contextlib.asynccontextmanager
    async def factory(info: Any, resume: Any, ledger: Any) -> AsyncIterator[BatchSource]:
        yield BatchSource()

    async with store:
        tuning = Tuning(batch_size=10, max_pending=8, budget=budget)
        task = asyncio.create_task(Ingest(state, store, factory, tuning=tuning).run())
        try:
            await until(lambda: state.stored == 30, 20, what="every message stored")
            assert state.gaps == 2 and state.missed == 9
            assert state.pending == 0 and budget.pending == 0
            assert budget.peak >= 25  # the big delivery was taken at once, alone
            page = await store.read(ROOM, 0, 100)
            assert [m.msg_id for m in page.messages] == list(range(1, 31))
            # each append: whole deliveries, the position of the last; the big one alone
            sizes = [n for n, _ in store.appends]
            assert sum(sizes) == 30 and 25 in sizes
            last_ids = [p.last_msg_id if p else None for _, p in store.appends]
            assert last_ids[-1] == 30 and all(i in (3, 5, 30) for i in last_ids)
            position = await store.upstream_position(ROOM)
            assert position is not None and position.cursor == "c30"
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

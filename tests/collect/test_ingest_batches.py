"""Ingestion reads a source that hands out a delivery at a time (``batches()``, the collector's
service path) into exactly the queue entries it builds from the same source read one item at a
time: the same records, in the same store batches, with the same positions; gaps counted, the
ended broadcast's control message last."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from typing import Any

from support.waiting import until

from dylive.collect import Ingest, RoomState, Tuning
from dylive.decode import ControlEvent
from dylive.decode.direct import Rendered
from dylive.source.deliveries import Batch, Item
from dylive.source.gaps import GapEvent
from dylive.source.room import RoomInfo
from dylive.source.transport import Checkpoint
from dylive.store import Record, UpstreamPosition

ROOM = 7_000_000_000_000_000_002


def rendered(msg_id: int) -> Rendered:
    body = b'{"method":"WebcastChatMessage","msg_id":%d,"payload":{}}' % msg_id
    return Rendered("WebcastChatMessage", msg_id, ROOM, 1_700_000_000_000 + msg_id, b"\x08", body)


def deliveries() -> list[tuple[list[Item], Checkpoint]]:
    """Deliveries of 1-4 items (a gap first in one, one of a gap alone), then the live end."""
    out: list[tuple[list[Item], Checkpoint]] = []
    msg_id = 0
    for d in range(1, 40):
        items: list[Item] = []
        if d in (7, 20):
            items.append(GapEvent(ROOM, 1, 2, "test", missed=d))
        if d != 20:
            for _ in range(d % 4 + 1):
                msg_id += 1
                items.append(rendered(msg_id))
        out.append((items, Checkpoint(f"c{d}", f"seq:{d}", "ws://x", "push", msg_id)))
    end = ControlEvent(method="WebcastControlMessage", msg_id=msg_id + 1, room_id=ROOM,
                       created_at=0, raw=b"", action=3)  # fmt: skip
    out.append(([end], Checkpoint("end", "seq:40", "ws://x", "push", msg_id + 1)))
    return out


class Source:
    """The deliveries, one item at a time (``checkpoint`` as the collector moves it: past a
    delivery just before its last item), or with ``batched`` a delivery at a time too."""

    batched_reads = 0

    def __init__(self, batched: bool) -> None:
        self.checkpoint: Checkpoint | None = Checkpoint()
        if batched:
            self.batches = self._batches

    async def __aiter__(self) -> AsyncIterator[Item]:
        for items, after in deliveries():
            for item in items[:-1]:
                yield item
            self.checkpoint = after
            yield items[-1]
            await asyncio.sleep(0)  # the next frame comes later: the writer runs meanwhile

    async def _batches(self) -> AsyncIterator[Batch]:
        Source.batched_reads += 1
        for items, after in deliveries():
            before, self.checkpoint = self.checkpoint, after
            assert before is not None
            yield items, before, after
            await asyncio.sleep(0)
        await asyncio.Event().wait()  # unreachable: the live end stops the reader


class Store:
    def __init__(self) -> None:
        self.appends: list[tuple[list[Record], UpstreamPosition | None]] = []

    async def upstream_position(self, room_id: int) -> None:
        return None

    async def messages_of(self, room_id: int, methods: object, after: int) -> list[Any]:
        return []

    async def append(
        self,
        records: Sequence[Record],
        *,
        position: UpstreamPosition | None = None,
        fence: Any = None,
    ) -> int:
        self.appends.append((list(records), position))
        return len(records)


async def ingest(batched: bool, tuning: Tuning) -> tuple[Store, RoomState]:
    store, state = Store(), RoomState(RoomInfo(web_rid="1", room_id=ROOM, status=2))

    class Opened:
        async def __aenter__(self) -> Source:
            return Source(batched)

        async def __aexit__(self, *exc: object) -> None:
            pass

    task = asyncio.create_task(
        Ingest(state, store, lambda *_: Opened(), tuning=tuning).run()  # type: ignore[arg-type]
    )
    await until(task.done, 10.0)
    task.result()
    return store, state


async def test_batched_reading_stores_what_item_reading_stores() -> None:
    for tuning in (Tuning(), Tuning(batch_size=3, max_pending=5)):
        items, item_state = await ingest(False, tuning)
        reads = Source.batched_reads
        batches, batch_state = await ingest(True, tuning)
        assert Source.batched_reads == reads + 1  # the batched path was taken
        assert batch_state.ended and item_state.ended
        assert (batch_state.gaps, batch_state.missed) == (item_state.gaps, item_state.missed)
        assert batch_state.gaps == 2 and batch_state.missed == 27
        assert batches.appends == items.appends
        stored = [r.msg_id for records, _ in batches.appends for r in records]
        assert stored == sorted(set(stored)) and len(stored) == 99  # 98 chats and the end
        assert batches.appends[-1][1] is not None and batches.appends[-1][1].cursor == "end"

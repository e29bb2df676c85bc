"""A store write that fails transiently is retried with the batch kept: counted, reported, and
cleared once it works again (the first try runs outside the retry loop, the loop takes over)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

from support.waiting import until

from dylive.collect import Ingest, RoomState, Tuning
from dylive.decode.direct import Rendered
from dylive.errors import StoreError
from dylive.source.room import RoomInfo
from dylive.source.transport import Checkpoint
from dylive.store import Record, SQLiteStore, UpstreamPosition

ROOM = 7_000_000_000_000_000_001


class FlakyStore(SQLiteStore):
    """Its first ``failures`` appends fail as a locked database would (transient)."""

    failures = 2
    tries = 0

    async def append(
        self,
        records: Sequence[Record],
        *,
        position: UpstreamPosition | None = None,
        fence: Any = None,
    ) -> int:
        self.tries += 1
        if self.tries <= self.failures:
            raise StoreError("database is locked", transient=True)
        return await super().append(records, position=position, fence=fence)


class Source:
    """Five rendered messages, then nothing more (the room stays live)."""

    checkpoint: Checkpoint | None = None

    async def __aiter__(self) -> AsyncIterator[Rendered]:
        for i in range(1, 6):
            self.checkpoint = Checkpoint(f"c{i}", f"seq:{i}", "", "push", i)
            body = b'{"method":"WebcastChatMessage","msg_id":%d,"payload":{}}' % i
            yield Rendered("WebcastChatMessage", i, ROOM, 1_700_000_000_000 + i, b"\x08\x01", body)
        await asyncio.Event().wait()


class Hooks:
    def __init__(self) -> None:
        self.retries = 0
        self.stored = 0

    def on_stored(self, room_id: int, inserted: int) -> None:
        self.stored += inserted

    def on_retry(self, room_id: int) -> None:
        self.retries += 1

    def on_quarantined(self, room_id: int) -> None: ...

    def on_restart(self, room_id: int) -> None: ...

    def on_gap(self, room_id: int, missed: int) -> None: ...

    def on_fenced(self, room_id: int) -> None: ...


async def test_a_transient_store_failure_is_retried_with_the_batch_kept(tmp_path: Path) -> None:
    store = FlakyStore(tmp_path / "flaky.sqlite3")
    hooks = Hooks()
    state = RoomState(RoomInfo("1", ROOM, 2), pinned=True)

    @contextlib.asynccontextmanager
    async def factory(info: Any, resume: Any, ledger: Any) -> AsyncIterator[Source]:
        yield Source()

    async with store:
        tuning = Tuning(retry_initial=0.01, retry_cap=0.02, batch_size=1000)
        task = asyncio.create_task(Ingest(state, store, factory, tuning=tuning, hooks=hooks).run())
        try:
            await until(lambda: state.stored == 5, 20, what="every message stored")
            assert state.retries == 2 and hooks.retries == 2  # each failed try counted once
            assert state.error == ""  # cleared when the store works again
            assert state.restarts == 0 and state.quarantined == 0
            assert hooks.stored == 5 and state.pending == 0
            page = await store.read(ROOM, 0, 10)
            assert [m.msg_id for m in page.messages] == [1, 2, 3, 4, 5]
            position = await store.upstream_position(ROOM)
            assert position is not None and position.last_msg_id == 5  # stored with the last batch
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

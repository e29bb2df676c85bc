"""Shared by the overload tests: a store that stops keeping up, and the exactness check."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from dylive.store import EventStore, Fence, Record, SQLiteStore, UpstreamPosition


class HeldStore(SQLiteStore):
    """A real SQLite store whose appends wait while ``open_gate`` is clear (a store that cannot
    keep up: what pending messages pile up behind)."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.open_gate = asyncio.Event()
        self.open_gate.set()

    async def append(
        self,
        records: Sequence[Record],
        *,
        position: UpstreamPosition | None = None,
        fence: Fence | None = None,
    ) -> int:
        await self.open_gate.wait()
        return await super().append(records, position=position, fence=fence)


async def stored_ids(store: EventStore, room_id: int) -> list[int]:
    """Every stored msg_id of a room, in stored order."""
    ids: list[int] = []
    after = 0
    while True:
        page = await store.read(room_id, after, 500)
        if not page.messages:
            return ids
        ids += [m.msg_id for m in page.messages]
        after = page.last_seq


def assert_exact(log: list[dict[str, Any]], stored: list[int]) -> None:
    """``stored`` is a contiguous stretch of the simulator's log, each message once."""
    ids = [int(e["msg_id"]) for e in log]
    assert stored, "nothing stored"
    assert len(stored) == len(set(stored)), "a message was stored twice"
    start = ids.index(stored[0])
    assert stored == ids[start : start + len(stored)], "lost or reordered messages"

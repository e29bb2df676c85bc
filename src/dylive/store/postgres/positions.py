"""Read positions on PostgreSQL: per API token (coalesced into the next writer batch) and per
delivery consumer.

A token's position only ever moves forward (``greatest``; a claim moves it past where it
was), so a position this process committed is a floor: a write that cannot move it past that
floor is not sent (a reader paging through older messages would otherwise cost one writer
transaction, and its WAL flush, every few pages).
"""

from __future__ import annotations

import asyncio
import logging
from functools import partial
from typing import Any

from ..domain import PositionRules
from ..migrations import to_signed, to_unsigned
from ..rows import now_ms
from .engine import Fn, PostgresEngine
from .outbox import SET_CONSUMER_POSITION
from .pool import Conn

log = logging.getLogger(__name__)

#: committed positions remembered (then forgotten all at once: a skipped write is only saved work)
_WRITTEN_MAX = 100_000

_SET_POSITIONS = """
INSERT INTO positions (token_id, room_id, seq) VALUES (%s, %s, %s)
ON CONFLICT (token_id, room_id) DO UPDATE SET seq = greatest(positions.seq, excluded.seq)
"""

#: compare-and-set of a cursor-less read (see ``claim_position``): inserted, or moved only if
#: nobody moved it beyond where this reader started; rowcount 0 = lost to another reader
_CLAIM_POSITION = """
INSERT INTO positions (token_id, room_id, seq) VALUES (%s, %s, %s)
ON CONFLICT (token_id, room_id) DO UPDATE SET seq = excluded.seq WHERE positions.seq <= %s
"""


class PostgresPositions(PostgresEngine, PositionRules):
    """:class:`~dylive.store.interfaces.Positions` on PostgreSQL."""

    async def _stored_position(self, token_id: int, room_id: int) -> int | None:
        row = await self._fetch_one(
            "SELECT seq FROM positions WHERE token_id = %s AND room_id = %s",
            (token_id, to_signed(room_id)),
        )
        return int(row[0]) if row else None

    async def set_position(self, token_id: int, room_id: int, seq: int, *, wait: bool) -> None:
        """Awaited writes commit before returning; unawaited ones are coalesced per
        (token, room) and written by the next writer batch."""
        key = (token_id, room_id)
        if seq <= self._written_pos.get(key, -1):
            return  # committed already at or past seq: nothing to write
        first = not self._pending_pos
        self._pending_pos[key] = max(seq, self._pending_pos.get(key, 0))
        if wait or first:
            future = self._enqueue(self._positions_op())
            assert future is not None
            future.add_done_callback(partial(self._positions_written, wait))
            if wait:
                await future

    async def claim_position(self, token_id: int, room_id: int, after: int, seq: int) -> bool:
        return await self._write(_CLAIM_POSITION, (token_id, to_signed(room_id), seq, after)) == 1

    def _positions_op(self) -> Fn:
        taken: dict[tuple[int, int], int] | None = None

        async def write(conn: Conn) -> dict[tuple[int, int], int]:
            nonlocal taken
            if taken is None:  # taken once: a retried op writes the same positions
                taken, self._pending_pos = self._pending_pos, {}
            if taken:
                async with conn.cursor() as cur:
                    await cur.executemany(
                        _SET_POSITIONS,
                        [(t, to_signed(r), seq) for (t, r), seq in taken.items()],
                    )
            return taken

        return write

    def _positions_written(self, awaited: bool, future: asyncio.Future[Any]) -> None:
        """Remember what a committed positions write stored; log an unawaited failure."""
        if future.cancelled():
            return
        if (exc := future.exception()) is not None:
            if not awaited:
                log.error("postgres: unawaited write failed: %s", exc)
            return
        if len(self._written_pos) >= _WRITTEN_MAX:
            self._written_pos.clear()
        written = self._written_pos
        for key, seq in future.result().items():
            if seq > written.get(key, -1):
                written[key] = seq

    async def consumer_positions(self, consumer: str) -> dict[int, int]:
        rows = await self._fetch(
            "SELECT room_id, seq FROM outbox_positions WHERE consumer = %s", (consumer,)
        )
        return {to_unsigned(room_id): int(seq) for room_id, seq in rows}

    async def set_consumer_position(self, consumer: str, room_id: int, seq: int) -> None:
        await self._write(SET_CONSUMER_POSITION, (consumer, to_signed(room_id), seq, now_ms()))

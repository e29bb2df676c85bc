"""Long-poll waiters of both backends' ``EventLog.wait_for``: one future per waiter, in a
per-room set woken directly by a commit, and deadlines on a coarse shared timer.

Before, each wait made (or reused) an ``asyncio.Event`` of its room, a timer and a timeout scope
of its own (``asyncio.timeout``: 5 µs and a ``TimerHandle`` per waiting request), and the Event's
``wait`` a future of its own too. Here a waiter is one future: :meth:`Waiters.wake` resolves the
futures of a room with True; a deadline falls into a bucket of :data:`GRANULARITY` seconds, the
end of which (one ``call_at`` per bucket, shared by every waiter whose deadline falls in it)
resolves its still-waiting futures with False. A deadline is so kept late by up to one bucket,
never early. A waiter cancelled while waiting (its client went away) leaves a cancelled future,
which a wake or the bucket's end skips and drops.
"""

from __future__ import annotations

import asyncio
import math

#: Seconds of one deadline bucket: a wait ends at most this late (never early).
GRANULARITY = 0.1


class Waiters:
    """The waiting futures of each room, and the shared deadline buckets (event loop thread)."""

    __slots__ = ("_buckets", "_rooms")

    def __init__(self) -> None:
        self._rooms: dict[int, set[asyncio.Future[bool]]] = {}
        # bucket number -> (room, future) of the waits whose deadline falls in it
        self._buckets: dict[int, list[tuple[int, asyncio.Future[bool]]]] = {}

    def __len__(self) -> int:
        """Futures still registered (waiting, or cancelled and not yet dropped)."""
        return sum(len(futures) for futures in self._rooms.values())

    def rooms(self) -> int:
        return len(self._rooms)

    def wait(self, room_id: int, within: float) -> asyncio.Future[bool]:
        """A future resolved True by the room's next :meth:`wake`, False at the end of the bucket
        of ``within`` seconds from now (at most :data:`GRANULARITY` later; never if infinite)."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[bool] = loop.create_future()
        futures = self._rooms.get(room_id)
        if futures is None:
            self._rooms[room_id] = {future}
        else:
            futures.add(future)
        if not math.isfinite(within):
            return future  # no deadline: until a wake
        bucket = math.ceil((loop.time() + within) / GRANULARITY)
        due = self._buckets.get(bucket)
        if due is None:
            self._buckets[bucket] = [(room_id, future)]
            loop.call_at(bucket * GRANULARITY, self._expire, bucket)
        else:
            due.append((room_id, future))
        return future

    def wake(self, room_id: int) -> None:
        """The room has new rows: every waiter of it, True."""
        futures = self._rooms.pop(room_id, None)
        if futures is not None:
            for future in futures:
                if not future.done():
                    future.set_result(True)

    def wake_all(self) -> None:
        """Every waiter, True (each then checks its room again: a listener went down)."""
        rooms, self._rooms = self._rooms, {}
        for futures in rooms.values():
            for future in futures:
                if not future.done():
                    future.set_result(True)

    def _expire(self, bucket: int) -> None:
        rooms = self._rooms
        for room_id, future in self._buckets.pop(bucket, ()):
            if future.done() and not future.cancelled():
                continue  # woken (its room's set is gone or holds a later wait)
            if not future.cancelled():
                future.set_result(False)
            futures = rooms.get(room_id)
            if futures is not None:
                futures.discard(future)
                if not futures:
                    del rooms[room_id]

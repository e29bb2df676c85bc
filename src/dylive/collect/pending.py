"""One room's queue of events read and not stored yet, between ingestion's reader and writer.

What ``asyncio.Queue`` did for :class:`~dylive.collect.ingest.Ingest`, for its one reader and its
one writer, for less per event (asyncio's queue is Python, a ``put_nowait`` and a ``get_nowait``
per event with its unfinished-task count and event: 4–7 % of the loop's instructions per message
in ``bench/ingest_loop.py``, docs/benchmarks.md, "Eighth session"): the reader appends to a
deque, the writer takes everything queued at once (up to a batch), and each side waits on a
future only when it has to (nothing queued / the bound reached). An entry weighs ``n`` (the
reader queues a delivery's events as one entry weighing their number): the bound and the
writer's batch are counted in that weight.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Any


class Pending:
    """``Pending(limit)``: a FIFO of entries weighing at most ``limit`` together (``put`` waits
    while the next one does not fit; one is let in whatever its weight when the queue is
    empty; ``limit`` 0 or less: no bound, as ``asyncio.Queue``'s ``maxsize``)."""

    __slots__ = ("_getter", "_items", "_limit", "_putters", "_weight", "_weights")

    def __init__(self, limit: int) -> None:
        self._items: deque[Any] = deque()
        self._weights: deque[int] = deque()
        self._weight = 0  # of the queued entries
        self._limit = limit if limit > 0 else float("inf")
        self._getter: asyncio.Future[None] | None = None
        self._putters: list[asyncio.Future[None]] = []

    def __len__(self) -> int:
        """The weight queued (events, for ingestion)."""
        return self._weight

    def put_nowait(self, item: Any, n: int = 1) -> bool:
        """Queue ``item`` weighing ``n`` unless it does not fit (False: nothing queued)."""
        if self._weight + n > self._limit and self._items:
            return False
        self._items.append(item)
        self._weights.append(n)
        self._weight += n
        getter = self._getter
        if getter is not None:
            self._getter = None
            if not getter.done():
                getter.set_result(None)
        return True

    async def put(self, item: Any, n: int = 1) -> None:
        """Queue ``item`` weighing ``n``, waiting while it does not fit."""
        while not self.put_nowait(item, n):
            waiter = asyncio.get_running_loop().create_future()
            self._putters.append(waiter)
            try:
                await waiter
            finally:
                if waiter in self._putters:
                    self._putters.remove(waiter)

    async def take(self, limit: int) -> list[Any]:
        """The oldest entries weighing at most ``limit`` together, and at least one (waits
        while the queue is empty)."""
        items, weights = self._items, self._weights
        while not items:
            getter = self._getter = asyncio.get_running_loop().create_future()
            try:
                await getter
            finally:
                if self._getter is getter:
                    self._getter = None
        if self._weight <= limit:
            taken = list(items)
            items.clear()
            weights.clear()
            self._weight = 0
        else:
            taken, weight = [items.popleft()], weights.popleft()
            while items and weight + weights[0] <= limit:
                taken.append(items.popleft())
                weight += weights.popleft()
            self._weight -= weight
        if self._putters:
            putters, self._putters = self._putters, []
            for waiter in putters:
                if not waiter.done():
                    waiter.set_result(None)
        return taken

"""One room's queue of events read and not stored yet, between ingestion's reader and writer.

What ``asyncio.Queue`` did for :class:`~dylive.collect.ingest.Ingest`, for its one reader and its
one writer, for less per event (asyncio's queue is Python, a ``put_nowait`` and a ``get_nowait``
per event with its unfinished-task count and event: 4–7 % of the loop's instructions per message
in ``bench/ingest_loop.py``, docs/benchmarks.md, "Eighth session"): the reader appends to a
deque, the writer takes everything queued at once (up to a batch), and each side waits on a
future only when it has to (nothing queued / the bound reached).
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Any


class Pending:
    """``Pending(limit)``: a FIFO of at most ``limit`` items (``put`` waits while it is full;
    ``limit`` 0 or less: no bound, as ``asyncio.Queue``'s ``maxsize``)."""

    __slots__ = ("_getter", "_items", "_limit", "_putters")

    def __init__(self, limit: int) -> None:
        self._items: deque[Any] = deque()
        self._limit = limit if limit > 0 else float("inf")
        self._getter: asyncio.Future[None] | None = None
        self._putters: list[asyncio.Future[None]] = []

    def __len__(self) -> int:
        return len(self._items)

    def put_nowait(self, item: Any) -> bool:
        """Queue ``item`` unless the queue is full (False: nothing queued)."""
        if len(self._items) >= self._limit:
            return False
        self._items.append(item)
        getter = self._getter
        if getter is not None:
            self._getter = None
            if not getter.done():
                getter.set_result(None)
        return True

    async def put(self, item: Any) -> None:
        """Queue ``item``, waiting while the queue is full."""
        while not self.put_nowait(item):
            waiter = asyncio.get_running_loop().create_future()
            self._putters.append(waiter)
            try:
                await waiter
            finally:
                if waiter in self._putters:
                    self._putters.remove(waiter)

    async def take(self, limit: int) -> list[Any]:
        """The oldest items, at most ``limit`` (at least one: waits while the queue is empty)."""
        items = self._items
        while not items:
            getter = self._getter = asyncio.get_running_loop().create_future()
            try:
                await getter
            finally:
                if self._getter is getter:
                    self._getter = None
        if len(items) <= limit:
            taken = list(items)
            items.clear()
        else:
            taken = [items.popleft() for _ in range(limit)]
        if self._putters:
            putters, self._putters = self._putters, []
            for waiter in putters:
                if not waiter.done():
                    waiter.set_result(None)
        return taken

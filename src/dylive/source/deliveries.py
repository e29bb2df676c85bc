"""How a :class:`~dylive.source.collector.Room` hands out what it receives: per item (its
public async iterator) or per delivery (:meth:`Deliveries.batches`, the service's path).

A delivery is one push frame or one im/fetch answer; the Room turns it into its items (events,
pre-rendered messages, a gap first when a resume landed late) and the checkpoint past them.
Both ways keep the checkpoint's promise: ``room.checkpoint`` covers exactly what was handed out.
Per item, it moves past a delivery just before the delivery's last item is handed out; per
delivery, before the batch is. A delivery without items only moves it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any, cast

from dylive.decode import Event
from dylive.decode.direct import Rendered
from dylive.source.gaps import GapEvent
from dylive.source.transport import Checkpoint

if TYPE_CHECKING:
    from dylive.source.room import RoomInfo

#: What a room yields: typed events and gaps; with ``direct`` also pre-rendered messages.
Item = Event | GapEvent | Rendered
#: One delivery handed out at once: its items, the checkpoint before and the one after them.
Batch = tuple[list[Item], Checkpoint, Checkpoint]

__all__ = ["Batch", "Deliveries", "Item"]


class Deliveries:
    """The iteration half of a Room: it provides ``_deliveries()`` (each delivery's items with
    the checkpoint past them) and keeps ``_checkpoint``, ``_gen`` and ``info``."""

    info: RoomInfo | None
    _checkpoint: Checkpoint
    _gen: AsyncIterator[Any] | None

    def _deliveries(self) -> AsyncIterator[tuple[list[Item], Checkpoint]]:
        raise NotImplementedError

    @property
    def checkpoint(self) -> Checkpoint:
        """The resumable point after every item handed out so far (see the module docstring)."""
        return self._checkpoint

    def __aiter__(self) -> AsyncIterator[Event | GapEvent]:
        """Typed events and gaps, in arrival order (with ``CollectorOptions(direct=True)``,
        the service's option, the common methods come as ``decode.direct.Rendered``)."""
        if self.info is None:
            raise RuntimeError("use `async with Room(...) as room:` before iterating")
        if self._gen is None:
            self._gen = self._items()
        return cast(AsyncIterator[Event | GapEvent], self._gen)

    def batches(self) -> AsyncIterator[Batch]:
        """The same items a delivery at a time, ``(items, before, after)``: the checkpoints
        before and after them (``checkpoint`` is ``after`` once a batch is handed out). One
        yield per push frame instead of one per item; a Room is iterated one way only."""
        if self.info is None:
            raise RuntimeError("use `async with Room(...) as room:` before iterating")
        if self._gen is None:
            self._gen = self._batches()
        return cast(AsyncIterator[Batch], self._gen)

    async def _batches(self) -> AsyncIterator[Batch]:
        async for items, after in self._deliveries():
            before, self._checkpoint = self._checkpoint, after
            yield items, before, after

    async def _items(self) -> AsyncIterator[Item]:
        async for items, after in self._deliveries():
            for item in items[:-1]:
                yield item
            self._checkpoint = after
            yield items[-1]

"""The batch path: what a room hands on per delivery, and the one-event view built on it.

A :class:`~dylive.source.transport.Delivery` (a push frame, an im/fetch response) becomes one
:data:`Batch`: the events the collector accepted from it (a ``GapEvent`` only first) and the
:class:`~dylive.source.transport.Checkpoint` after them. The service's path hands batches on as
they are (``Room.batches()``, ``PooledRoom.batches()``, ingestion queues one entry a batch);
the public iteration of ``dylive.Room`` is :func:`one_by_one` over the same batches.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator, Callable

from dylive.decode import Event
from dylive.decode.direct import Rendered
from dylive.source.gaps import GapEvent
from dylive.source.transport import Checkpoint

__all__ = ["Batch", "Item", "one_by_one"]

#: What a room yields: typed events and gaps; with ``direct`` also pre-rendered messages.
Item = Event | GapEvent | Rendered
#: One delivery: its events (a ``GapEvent`` only first), the checkpoint after them.
Batch = tuple[list[Item], Checkpoint]


async def one_by_one(
    batches: AsyncGenerator[Batch, None], moved: Callable[[Checkpoint], None]
) -> AsyncGenerator[Item, None]:
    """Each batch's events one at a time; ``moved(checkpoint)`` just before the batch's last
    event is handed out (at once for a batch without events), so that a checkpoint read right
    after an event covers it and nothing not handed out yet."""
    async with contextlib.aclosing(batches):
        async for events, checkpoint in batches:
            if len(events) > 1:
                for event in events[:-1]:
                    yield event
            moved(checkpoint)
            if events:
                yield events[-1]

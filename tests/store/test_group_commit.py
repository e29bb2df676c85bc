"""Group commit in the stores' one writer (``rows.drain_batches``): while several callers write at
once, a batch starts at most every ``interval`` seconds so their writes share one transaction; a
lone caller that awaits each write is never held back."""

from __future__ import annotations

import asyncio

from dylive.store.health import WriterProgress
from dylive.store.rows import WriteOp, drain_batches


def _op(name: str) -> WriteOp[str]:
    return WriteOp(name, None)


async def test_busy_writers_share_a_batch_and_a_lone_writer_is_not_held() -> None:
    queue: asyncio.Queue[WriteOp[str] | None] = asyncio.Queue()
    batches = drain_batches(queue, 100, WriterProgress(), interval=0.3)

    # a lone caller: one op per batch, each out at once (an hour-long interval would show)
    lone = drain_batches(queue, 100, WriterProgress(), interval=3600)
    async with asyncio.timeout(30):
        for name in ("x", "y", "z"):
            queue.put_nowait(_op(name))
            assert [o.fn for o in await anext(lone)] == [name]
    await lone.aclose()

    # two callers at once: a crowded batch; the next one waits for the interval and so takes
    # what the callers queued meanwhile (without the interval it would hold "c" alone)
    queue.put_nowait(_op("a"))
    queue.put_nowait(_op("b"))
    async with asyncio.timeout(30):
        assert [o.fn for o in await anext(batches)] == ["a", "b"]
        queue.put_nowait(_op("c"))
        nxt = asyncio.ensure_future(anext(batches))
        for _ in range(5):  # the writer has taken "c" and is waiting out the interval
            await asyncio.sleep(0)
        assert queue.empty() and not nxt.done()
        queue.put_nowait(_op("d"))
        queue.put_nowait(_op("e"))
        assert [o.fn for o in await nxt] == ["c", "d", "e"]
        queue.put_nowait(None)
        assert [b async for b in batches] == []

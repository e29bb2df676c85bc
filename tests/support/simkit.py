"""Shared helpers of the collector integration tests (real simulator, port 0)."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from dylive.decode import Event
from dylive.source.collector import CollectorOptions, Room
from dylive.source.gaps import GapEvent
from dylive.source.reconnect import Backoff
from support.waiting import reached as wait_for  # noqa: F401  (the collector tests' name for it)

FAST = CollectorOptions(
    heartbeat_interval=0.3,
    silence_timeout=2.0,
    fake_alive_timeout=1.0,
    push_failures_before_fallback=3,
    push_retry_after=1.0,
    poll_min_interval=0.05,
    poll_max_interval=0.2,
    open_timeout=3.0,
    http_timeout=5.0,
    follow_interval=0.1,
    follow_max_interval=0.3,
)


def fast_backoff() -> Backoff:
    return Backoff(initial=0.05, factor=2.0, cap=0.3, jitter=0.5)


@dataclass
class Run:
    events: list[Event] = field(default_factory=list)
    gaps: list[GapEvent] = field(default_factory=list)
    done: bool = False

    @property
    def ids(self) -> list[int]:
        return [e.msg_id for e in self.events]


async def consume(room: Room, run: Run) -> None:
    async for event in room:
        if isinstance(event, GapEvent):
            run.gaps.append(event)
        else:
            run.events.append(event)
    run.done = True


@contextlib.asynccontextmanager
async def collecting(room: Room, run: Run) -> Any:
    task = asyncio.create_task(consume(room, run))
    try:
        yield task
    finally:
        if not task.done():
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def compare(log: list[dict[str, Any]], run: Run) -> tuple[list[int], list[int]]:
    """(missing, duplicated) msg_ids: the log span from the first received message to the last
    one must be received exactly once (log entries are dicts with ``msg_id``)."""
    ids = [int(e["msg_id"]) for e in log]
    index = {m: i for i, m in enumerate(ids)}
    got = run.ids
    dups = sorted(m for m, n in Counter(got).items() if n > 1)
    foreign = [m for m in got if m not in index]
    assert not foreign, f"received ids not in the log: {foreign[:5]}"
    if not got:
        return ids, dups
    lo = min(index[m] for m in got)
    hi = max(index[m] for m in got)
    have = set(got)
    missing = [m for m in ids[lo : hi + 1] if m not in have]
    return missing, dups

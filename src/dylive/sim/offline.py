"""A broadcast generated offline (no server, no clock): the simulator's log entries with their
payloads and facts, for tests and benchmarks that feed a store directly.

``broadcast(web_rid, seconds, rate=…)`` runs one room's script for ``seconds`` simulated seconds
(one tick per second), between its opening messages and the ControlMessage that ends it;
``totals(entries, 1)`` (``sim/totals.py``) is then the ground truth of those entries.
"""

from __future__ import annotations

import random

from . import builders as b
from .rooms import IdAllocator, LogEntry
from .scenario import Script, default_rooms

START_MS = 1_764_640_000_000


def broadcast(
    web_rid: str,
    room_id: int,
    seconds: int,
    *,
    rate: float = 20.0,
    seed: int = 1,
    start_ms: int = START_MS,
) -> list[LogEntry]:
    """``seconds`` of a default-scenario room's messages at ``rate`` messages/s."""
    spec = next(s for s in default_rooms() if s.web_rid == web_rid)
    script = Script(spec, seed)
    ids = IdAllocator(random.Random(seed))
    entries: list[LogEntry] = []

    def emit(drafts: list[b.Draft], ms: int) -> None:
        for draft in drafts:
            msg_id = ids.next(ms)
            payload = b.stamp(draft, msg_id=msg_id, room_id=room_id, now_ms=ms)
            seq = len(entries) + 1
            entries.append(LogEntry(seq, draft.method, msg_id, room_id, ms, payload, draft.fact))

    emit(script.opening(), start_ms)
    for second in range(seconds):
        ms = start_ms + second * 1000
        emit(script.tick(ms, 1.0, rate), ms)
    emit(script.closing(), start_ms + seconds * 1000)
    return entries

"""The SSE stream's per-message path, in-process, without sockets; prints figures (no assertions).

Drives ``serve/stream.py:_Stream.catch_up`` over ``--messages`` stored messages (pages of 500
from a fake store, the status tick pushed far away) with the real usage meter and quota book,
and prints µs of CPU per message sent, best of ``--repeat`` runs. ``--capped`` gives the token a
message quota larger than the run (the quota book is then asked before each message; on a tree
without the per-message check it is the same run as without). Runs against whatever ``dylive``
is importable, so base and new are compared with ``PYTHONPATH=<worktree>/src``.

Usage: ``python bench/stream_path.py [--messages 200000] [--repeat 5] [--capped]``.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import time
from types import SimpleNamespace
from typing import Any

from dylive.app.quotas import Quotas
from dylive.app.usage import Meter
from dylive.serve import stream
from dylive.source.room import RoomInfo
from dylive.store import Page, Quota, StoredMessage, TokenRecord

PAGE = 500
ROW = b'{"method":"WebcastChatMessage","msg_id":7714536595408251829,"payload":{"content":"x"}}'


class _Store:
    """Pages of ``total`` messages after a position; the usage interface answers zeros."""

    def __init__(self, total: int) -> None:
        self.total = total

    async def read(self, room_id: int, after: int, size: int, methods: Any) -> Page:
        end = min(self.total, after + size)
        rows = [
            StoredMessage(s, room_id, s, "WebcastChatMessage", 0, 0, ROW)
            for s in range(after + 1, end + 1)
        ]
        return Page(rows, max(after, end))

    async def usage_totals(self, ids: list[int], since: int) -> dict[int, tuple[int, int]]:
        return {}


async def _run(total: int, capped: bool) -> float:
    store = _Store(total)
    meter = Meter(store, interval=3600)  # type: ignore[arg-type]
    quotas = Quotas(store, meter)  # type: ignore[arg-type]
    quota = Quota(messages_per_day=10**12) if capped else Quota()
    record = TokenRecord(1, "bench", "d" * 64, 0, 0.0, 0, quota=quota)
    await quotas.check(record)  # loaded, as authorize does at connect
    hub = SimpleNamespace(page_size=PAGE, status_interval=1e9)
    svc = SimpleNamespace(store=store, meter=meter, quotas=quotas, stream=hub)
    fields = [f.name for f in dataclasses.fields(stream._Stream)]
    info = RoomInfo(web_rid="1", room_id=7, status=2)
    kw: dict[str, Any] = {"svc": svc, "info": info, "live": True, "position": 0}
    kw.update(methods=None, watch=None, next_status=time.monotonic() + 1e9)
    if "token" in fields:  # the token followed while the stream runs
        kw["token"] = stream.LiveToken(svc, record)  # type: ignore[attr-defined]
    else:
        kw.update(token_id=record.id, room_limit=0)
    state = stream._Stream(**kw)
    sent = 0
    start = time.process_time()
    async for _chunk in state.catch_up():
        sent += 1
    spent = time.process_time() - start
    assert sent == total, sent
    return spent / total * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--capped", action="store_true")
    args = parser.parse_args()
    runs = [asyncio.run(_run(args.messages, args.capped)) for _ in range(args.repeat)]
    print(f"us/message best {min(runs):.3f} runs {' '.join(f'{r:.3f}' for r in runs)}")


if __name__ == "__main__":
    main()

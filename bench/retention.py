"""Retention's deletes of usage rows: how long they hold the store's writer; prints figures (no
assertions).

Each round fills a fresh store with ``--tokens`` × ``--hours`` usage counters and as many room
uses, then deletes the older two thirds with ``prune_usage`` while a probe writes one audit entry
at a time (each waits for its commit, as every other write of the service does). Printed: the
rows deleted, the time of the whole delete, and the probe's commit latency during it (median,
max). ``--batch 5000,0`` alternates rounds of batched deletes with rounds of one delete of
everything (0: a batch larger than the table), ``--repeat`` times.

Usage: ``python bench/retention.py [--backend sqlite|postgres --tokens 100 --hours 2000
--batch 5000,0 --repeat 2]`` (postgres: the test server at 127.0.0.1:5432, a schema of its own).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from dylive.store import AuditEntry, EventStore, UsageRow, open_store

H = 3_600_000
T0 = 1_700_000_000_000 - 1_700_000_000_000 % H


@contextlib.contextmanager
def database(backend: str) -> Iterator[str]:
    if backend == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            yield str(Path(tmp) / "retention.sqlite3")
        return
    from support.postgres import admin_connection, fresh_schema, schema_url

    with admin_connection() as admin, fresh_schema(admin) as name:
        yield schema_url(name)


async def fill(store: EventStore, tokens: int, hours: int) -> None:
    for h in range(hours):
        hour = T0 + h * H
        rows = [UsageRow(t, hour, "chat", 200, 3, 30, 3000) for t in range(1, tokens + 1)]
        await store.add_usage(rows, [(t, hour, 7_000 + t) for t in range(1, tokens + 1)])


async def probe(store: EventStore, latencies: list[float], stop: asyncio.Event) -> None:
    while not stop.is_set():
        start = time.perf_counter()
        await store.add_audit(AuditEntry(0, T0, "bench", "probe", "", 200, ""))
        latencies.append(time.perf_counter() - start)
        await asyncio.sleep(0.005)


async def one_round(url: str, tokens: int, hours: int, batch: int) -> str:
    async with open_store(url) as store:
        await fill(store, tokens, hours)
        latencies: list[float] = []
        stop = asyncio.Event()
        prober = asyncio.create_task(probe(store, latencies, stop))
        await asyncio.sleep(0.2)
        before = len(latencies)
        start = time.perf_counter()
        deleted = await store.prune_usage(T0 + (2 * hours // 3) * H, batch=batch or 10**12)
        took = time.perf_counter() - start
        during = latencies[before:] or [0.0]
        stop.set()
        await prober
    return (
        f"batch {batch or 'all':>5}: deleted {deleted} rows in {took:.2f} s; probe commits"
        f" during it: {len(during)}, median {statistics.median(during) * 1000:.1f} ms,"
        f" max {max(during) * 1000:.0f} ms"
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--tokens", type=int, default=100)
    parser.add_argument("--hours", type=int, default=2000)
    parser.add_argument("--batch", default="5000,0")
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    batches = [int(b) for b in args.batch.split(",")]
    for _ in range(args.repeat):
        for batch in batches:
            with database(args.backend) as url:
                print(
                    args.backend, await one_round(url, args.tokens, args.hours, batch), flush=True
                )


if __name__ == "__main__":
    asyncio.run(main())

"""Retention's deletes (usage rows, or stored messages): how long they hold the store's writer;
prints figures (no assertions).

``--kind usage``: each round fills a fresh store with ``--tokens`` × ``--hours`` usage counters
and as many room uses, then deletes the older two thirds with ``prune_usage`` while a probe
writes one audit entry at a time (each waits for its commit, as every other write of the service
does). ``--kind messages``: each round stores ``--messages`` messages in ``--rooms`` rooms (two
thirds, then the cutoff, then the last third), then deletes the older two thirds with ``prune``
while the probe appends one message at a time to a room of its own (as collection does: a batch,
waiting for its commit). Printed: the rows deleted, the time of the whole delete, and the
probe's commit latency during it (median, max); with SQLite, also the writer thread's CPU and the
bytes it wrote (its WAL frames, 4,120 bytes each) per deleted row, and the writer connection's
``secure_delete`` (1: ON, 2: FAST; the probe's own commits during the delete are included).
``--batch 5000,0`` alternates rounds of batched
deletes with rounds of one delete of everything (0: a batch larger than the table; -1: the
store's default, e.g. to run a tree whose ``prune`` takes no batch), ``--repeat`` times.

Usage: ``python bench/retention.py [--kind usage|messages --backend sqlite|postgres --tokens 100
--hours 2000 --messages 150000 --rooms 50 --batch 5000,0 --repeat 2]`` (postgres: the test server
at 127.0.0.1:5432, a schema of its own).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from dylive.store import AuditEntry, EventStore, Record, UsageRow, open_store

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


#: a chat message of about the size the service stores (rendered JSON, raw payload)
RENDERED = b'{"method":"WebcastChatMessage","payload":{"content":"' + b"x" * 300 + b'"}}'
RAW = b"r" * 250
PROBE_ROOM = 999


def message(room: int, msg_id: int) -> Record:
    return Record(room, msg_id, "WebcastChatMessage", T0, RENDERED, RAW)


async def fill_messages(store: EventStore, first: int, count: int, rooms: int) -> None:
    for start in range(first, first + count, 2000):
        ids = range(start, min(start + 2000, first + count))
        await store.append([message(1 + i % rooms, i) for i in ids])


async def probe(
    store: EventStore, latencies: list[tuple[float, float]], stop: asyncio.Event, kind: str
) -> None:
    """Write one row at a time until stopped: (start, latency) of each write."""
    msg_id = 0
    while not stop.is_set():
        msg_id += 1
        start = time.perf_counter()
        if kind == "usage":
            await store.add_audit(AuditEntry(0, T0, "bench", "probe", "", 200, ""))
        else:
            await store.append([message(PROBE_ROOM, msg_id)])
        latencies.append((start, time.perf_counter() - start))
        await asyncio.sleep(0.005)


async def prepare(store: EventStore, args: argparse.Namespace) -> int:
    """Fill the store; the cutoff that deletes the older two thirds."""
    if args.kind == "usage":
        await fill(store, args.tokens, args.hours)
        return T0 + (2 * args.hours // 3) * H
    older = 2 * args.messages // 3
    await fill_messages(store, 0, older, args.rooms)
    cutoff = time.time_ns() // 1_000_000 + 1
    await asyncio.sleep(0.005)  # the rest is stored after the cutoff
    await fill_messages(store, older, args.messages - older, args.rooms)
    return cutoff


FRAME = 4096 + 24


def thread_usage(prefix: str) -> tuple[float, int]:
    """(CPU seconds, bytes written) of this process's threads named ``prefix``* (Linux /proc)."""
    cpu, wrote = 0.0, 0
    tick = os.sysconf("SC_CLK_TCK")
    for t in threading.enumerate():
        if not t.name.startswith(prefix) or t.native_id is None:
            continue
        task = f"/proc/self/task/{t.native_id}"
        with open(f"{task}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        cpu += (int(fields[11]) + int(fields[12])) / tick  # utime, stime
        with open(f"{task}/io") as f:
            io = dict(line.split(": ") for line in f.read().splitlines())
        wrote += int(io["wchar"])
    return cpu, wrote


async def secure_delete(store: EventStore) -> str:
    """The writer connection's ``secure_delete`` (SQLite only)."""
    submit = getattr(store, "_submit", None)
    if submit is None:
        return "-"
    value = await submit(lambda conn: conn.execute("PRAGMA secure_delete").fetchone()[0])
    return str(value)


async def one_round(url: str, args: argparse.Namespace, batch: int) -> str:
    async with open_store(url) as store:
        cutoff = await prepare(store, args)
        latencies: list[tuple[float, float]] = []
        stop = asyncio.Event()
        prober = asyncio.create_task(probe(store, latencies, stop, args.kind))
        await asyncio.sleep(0.2)
        secure = await secure_delete(store)
        cpu0, wrote0 = thread_usage("dylive-sqlite-w")
        start = time.perf_counter()
        if batch < 0:  # the store's default (also on a tree whose prune takes no batch)
            prune = store.prune_usage if args.kind == "usage" else store.prune
            deleted = await prune(cutoff)
        elif args.kind == "usage":
            deleted = await store.prune_usage(cutoff, batch=batch or 10**12)
        else:
            deleted = await store.prune(cutoff, batch=batch or 10**12)
        end = time.perf_counter()
        cpu1, wrote1 = thread_usage("dylive-sqlite-w")
        took = end - start
        stop.set()
        await prober
        # every probe write started while the delete ran (one blocked behind it ends after it)
        during = [wait for began, wait in latencies if start <= began < end] or [0.0]
    return (
        f"batch {label(batch):>7}: deleted {deleted} rows in {took:.2f} s; probe commits"
        f" during it: {len(during)}, median {statistics.median(during) * 1000:.1f} ms,"
        f" max {max(during) * 1000:.0f} ms; secure_delete {secure}, writer"
        f" {(cpu1 - cpu0) * 1e6 / max(deleted, 1):.1f} us/row,"
        f" {(wrote1 - wrote0) / max(deleted, 1):.0f} B/row"
        f" ({(wrote1 - wrote0) / FRAME / max(deleted, 1):.3f} frames/row,"
        f" {(wrote1 - wrote0) / 1e6:.0f} MB)"
    )


def label(batch: int) -> str:
    return "default" if batch < 0 else str(batch) if batch else "all"


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kind", choices=("usage", "messages"), default="usage")
    parser.add_argument("--backend", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--messages", type=int, default=150_000)
    parser.add_argument("--rooms", type=int, default=50)
    parser.add_argument("--tokens", type=int, default=100)
    parser.add_argument("--hours", type=int, default=2000)
    parser.add_argument("--batch", default="5000,0")
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    batches = [int(b) for b in args.batch.split(",")]
    for _ in range(args.repeat):
        for batch in batches:
            with database(args.backend) as url:
                print(args.kind, args.backend, await one_round(url, args, batch), flush=True)


if __name__ == "__main__":
    asyncio.run(main())

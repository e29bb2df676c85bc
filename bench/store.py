"""Store benchmarks, SQLite vs PostgreSQL side by side; prints figures (no assertions).

(1) ingest: messages/s appended with durable commits (SQLite WAL synchronous=NORMAL, which
    survives a process crash, and FULL; PostgreSQL synchronous_commit=on), 20 rooms appending
    concurrently in batches of 200 as the collectors do; then with batches of 5 (a quiet room
    flushes small batches).
(2) read: 50-message keyset pages per second (one room, 8 concurrent readers).

PostgreSQL runs in a fresh schema of ``DYLIVE_BENCH_POSTGRES`` (default
``postgresql://postgres@127.0.0.1:5432/test``), dropped afterwards.

Usage: ``python bench/store.py [--total N]``.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import orjson
from pgtemp import fresh_schema

from dylive.store import EventStore, Record, SQLiteStore
from dylive.store.postgres import PostgresStore

ADMIN_URL = os.environ.get("DYLIVE_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
ROOM = 6922580638159719176
ROOMS = 20


def record(room: int, msg_id: int) -> Record:
    rendered = orjson.dumps(
        {
            "method": "WebcastChatMessage",
            "msg_id": msg_id,
            "payload": {
                "room_id": room,
                "content": "想要长款连衣裙,23号大衣还有吗可以回复一下吗",
                "user": {
                    "uid": 61152922824 + msg_id % 1000,
                    "nickname": "若他",
                    "unique_id": "834508049",
                    "sec_uid": "MS4wLjABAAAAofSXImUFD30Qi7j1fV66kn0U7VinMZwzVkAfQnHZFvg",
                    "pay_grade_level": 12,
                    "fans_club_level": 3,
                },
            },
        }
    )
    return Record(room, msg_id, "WebcastChatMessage", 1611801897133, rendered, os.urandom(220))


async def ingest(store: EventStore, total: int, batch: int) -> tuple[float, int]:
    """(messages/s, commits) for ``total`` messages over ROOMS concurrent rooms."""
    per_room = total // ROOMS
    records = {
        r: [record(ROOM + r, 6922636275858098944 + i) for i in range(per_room)]
        for r in range(ROOMS)
    }

    async def room(r: int) -> None:
        rows = records[r]
        for i in range(0, len(rows), batch):
            await store.append(rows[i : i + batch])

    before = getattr(store, "batches", 0)
    start = time.perf_counter()
    await asyncio.gather(*(room(r) for r in range(ROOMS)))
    elapsed = time.perf_counter() - start
    return ROOMS * per_room / elapsed, getattr(store, "batches", 0) - before


async def reads(store: EventStore, seconds: float = 3.0) -> float:
    """50-message pages/s from one room, 8 concurrent keyset readers."""
    last = await store.last_seq(ROOM)
    count = 0
    until = time.perf_counter() + seconds

    async def reader(k: int) -> None:
        nonlocal count
        after = k * 997
        while time.perf_counter() < until:
            page = await store.read(ROOM, after % max(last, 1), 50)
            after = page.last_seq + 1
            count += 1

    start = time.perf_counter()
    await asyncio.gather(*(reader(k) for k in range(8)))
    return count / (time.perf_counter() - start)


async def run(name: str, factory: Callable[[], EventStore], total: int) -> dict[str, float]:
    figures: dict[str, float] = {}
    async with factory() as store:
        rate, commits = await ingest(store, total, 200)
        print(f"{name}: ingest batch=200: {rate:,.0f} msgs/s ({commits} commits)")
        figures["ingest200"] = rate
        small = max(total // 10, ROOMS * 5)
        rate, commits = await ingest(store, small, 5)
        print(f"{name}: ingest batch=5:   {rate:,.0f} msgs/s ({commits} commits)")
        figures["ingest5"] = rate
        rate = await reads(store)
        print(f"{name}: read 50-msg pages: {rate:,.0f} pages/s")
        figures["read"] = rate
    return figures


async def main(total: int) -> None:
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for sync in ("NORMAL", "FULL"):
            path = Path(tmp) / f"bench-{sync}.db"
            results[f"sqlite-{sync}"] = await run(
                f"SQLite synchronous={sync}",
                functools.partial(SQLiteStore, path, synchronous=sync),
                total,
            )
    with fresh_schema(ADMIN_URL) as schema:
        url = schema.url
        results["postgres"] = await run(
            "PostgreSQL synchronous_commit=on", lambda: PostgresStore(url), total
        )
    pg = results["postgres"]
    for key in ("sqlite-NORMAL", "sqlite-FULL"):
        lite = results[key]
        print(
            f"ratio PostgreSQL / {key}: ingest200 {pg['ingest200'] / lite['ingest200']:.2f},"
            f" ingest5 {pg['ingest5'] / lite['ingest5']:.2f}, read {pg['read'] / lite['read']:.2f}"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--total", type=int, default=100_000, help="messages per ingest run")
    asyncio.run(main(parser.parse_args().total))

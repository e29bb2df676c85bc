"""PostgreSQL durable ingest: messages/s with and without lease fences, per batch size, from
one writer process and from several (as the nodes of a fleet, each with its own rooms).

Each writer process opens its own :class:`PostgresStore` (``synchronous_commit=on``: every
commit is durable) and appends to ``--rooms`` rooms concurrently, in batches of 200 (a busy
room), 20 and 5 (quiet rooms flush small batches) records of ~400 bytes; with ``fenced`` each
room is leased to the writer and every append carries ``Fence(node, epoch)``. The figure is
the total stored by all writers over the wall time from the first append to the last commit.

PostgreSQL runs in a fresh schema of ``DYLIVE_BENCH_POSTGRES`` (default
``postgresql://postgres@127.0.0.1:5432/test``), dropped afterwards. Prints figures, asserts
nothing.

Usage: ``python bench/pg_ingest.py [--total N] [--writers 1,3] [--rooms 20]``.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import time
from typing import Any

import orjson
import psycopg
from pgtemp import fresh_schema

from dylive.store import Fence, Record
from dylive.store.migrations import to_signed
from dylive.store.postgres import PostgresStore

ADMIN_URL = os.environ.get("DYLIVE_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
BODY = orjson.dumps(
    {"method": "WebcastChatMessage", "payload": {"content": "想要长款连衣裙,23号大衣还有吗" * 4}}
)


async def write(url: str, node: str, rooms: list[int], per_room: int, batch: int, fenced: bool):
    """(commits, seconds) of one writer: every room appends ``per_room`` records."""
    async with PostgresStore(url) as store:
        fence = Fence(node, 1) if fenced else None
        batches = {
            r: [
                [
                    Record(r, s + i + 1, "WebcastChatMessage", 1, BODY, os.urandom(200))
                    for i in range(min(batch, per_room - s))
                ]
                for s in range(0, per_room, batch)
            ]
            for r in rooms
        }

        async def room(r: int) -> None:
            for records in batches[r]:
                await store.append(records, fence=fence)

        start = time.perf_counter()
        await asyncio.gather(*(room(r) for r in rooms))
        return store.batches, time.perf_counter() - start


def writer(args: tuple[Any, ...], ready: Any, go: Any, out: Any) -> None:
    ready.wait()
    go.wait()
    out.put((time.time(), *asyncio.run(write(*args)), time.time()))


def run(url: str, writers: int, rooms: int, total: int, batch: int, fenced: bool) -> str:
    base = 8_000_000_000 + batch * 100_000 + writers * 1_000 + (500 if fenced else 0)
    per_room = total // (writers * rooms)
    plan = [(f"w{w}", [base + w * rooms + r for r in range(rooms)]) for w in range(writers)]
    if fenced:
        with psycopg.connect(url, autocommit=True) as conn:
            for node, room_ids in plan:
                for r in room_ids:
                    conn.execute(
                        "INSERT INTO fleet_rooms (room_id, ident, owner, epoch)"
                        " VALUES (%s, 'bench', %s, 1)",
                        (to_signed(r), node),
                    )
    ctx = multiprocessing.get_context("spawn")
    ready, go, out = ctx.Barrier(writers + 1), ctx.Event(), ctx.Queue()
    procs = [
        ctx.Process(target=writer, args=((url, node, r, per_room, batch, fenced), ready, go, out))
        for node, r in plan
    ]
    for p in procs:
        p.start()
    ready.wait()
    go.set()
    results = [out.get(timeout=600) for _ in procs]
    for p in procs:
        p.join()
    stored = per_room * rooms * writers
    wall = max(r[3] for r in results) - min(r[0] for r in results)
    commits = sum(r[1] for r in results)
    return (
        f"{'fenced' if fenced else 'unfenced':8} writers={writers} batch={batch:<3}:"
        f" {stored / wall:9,.0f} msg/s  ({commits} commits, {stored / commits:,.0f} msg/commit,"
        f" {stored:,} msgs in {wall:.1f} s)"
    )


def main(args: argparse.Namespace) -> None:
    with fresh_schema(ADMIN_URL) as schema:
        url = schema.url

        async def migrate() -> None:
            async with PostgresStore(url):
                pass

        asyncio.run(migrate())
        print(f"PostgreSQL durable ingest ({args.rooms} rooms per writer, {os.cpu_count()} CPUs)")
        for writers in args.writers:
            for batch in (200, 20, 5):
                total = {200: args.total, 20: args.total // 2, 5: args.total // 4}[batch]
                for fenced in (False, True):
                    print(run(url, writers, args.rooms, total, batch, fenced), flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--total", type=int, default=200_000, help="messages per batch=200 run")
    parser.add_argument("--rooms", type=int, default=20, help="rooms per writer")
    parser.add_argument(
        "--writers",
        type=lambda s: [int(x) for x in s.split(",")],
        default=[1, 3],
        help="writer process counts, comma-separated",
    )
    main(parser.parse_args())

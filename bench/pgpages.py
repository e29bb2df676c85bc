"""History chat pages from PostgreSQL in process: the store's read side without HTTP.

``bench/api.py b --postgres`` measures history pages over HTTP; this measures what the
store's ``read_joined`` costs for them, on a realistic table: ``--rows`` rows (``api.record``'s
rendered JSON and raw bytes) of ``--rooms`` rooms interleaved as the collectors append them (3
rows a room in turn), so a 50-row page of one room reads ~17 table pages. ``--readers``
concurrent tasks read 50-message pages (the chat endpoint's default method filter) of random
rooms at random old cursors (never the cached tail) for ``--seconds``; printed per page: the CPU
time of this process (``time.process_time``: the event loop and psycopg), the CPU time of the
PostgreSQL backends connected to the database (``/proc/<pid>/stat``), and pages a statement.
``--readers 1`` gives the cost of a page read alone (one statement each).

Another tree: ``PYTHONPATH=<tree>/src python bench/pgpages.py`` (same data, same reads). The
database is created (``dylive_bench_pgpages_<rooms>_<rows>``) on first use and kept;
``--rebuild`` makes it again.

The event loop is the service's (uvloop when installed; ``--loop asyncio``: the default loop).

Usage: ``python bench/pgpages.py [--admin URL] [--rooms 200 --rows 200000] [--readers 32,1]
[--seconds 3 --rounds 3] [--loop auto|uvloop|asyncio] [--rebuild]``
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import time

import psycopg
from api import cpu_seconds, pg_backends_cpu, record

from dylive.app.delivery import DEFAULT_METHODS
from dylive.serve import runtime
from dylive.store import open_store

NAME = "dylive_bench_pgpages"
FIRST_ROOM = 1000  # room ids FIRST_ROOM.. (small: signed and unsigned alike)

_FILL = """
INSERT INTO events (room_id, msg_id, method, created_at, stored_at, rendered, raw)
SELECT %(first)s + t %% %(rooms)s, t * 3 + k, 'WebcastChatMessage', 1611801897133, 1, %(rendered)s,
    %(raw)s
FROM generate_series(0, %(turns)s - 1) AS t, generate_series(0, 2) AS k ORDER BY t, k
"""


def database(admin: str, rooms: int, rows: int, rebuild: bool) -> str:
    name = f"{NAME}_{rooms}_{rows}"  # a kept database is always of the sizes asked for
    url = admin.rsplit("/", 1)[0] + "/" + name
    with psycopg.connect(admin, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if exists and not rebuild:
            return url
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {name}")

    async def migrate() -> None:
        async with open_store(url):
            pass

    asyncio.run(migrate())
    sample = record(FIRST_ROOM, 1)
    args = {
        "first": FIRST_ROOM,
        "rooms": rooms,
        "turns": rows // 3,
        "rendered": sample.rendered,
        "raw": sample.raw,
    }
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(_FILL, args)
        conn.execute("VACUUM ANALYZE events")
    return url


async def measure(url: str, readers: list[int], seconds: float, rounds: int) -> None:
    rng = random.Random(1)
    async with open_store(url) as store:
        lasts = {r: await store.last_seq(r) for r in range(FIRST_ROOM, FIRST_ROOM + 200)}
        rooms = [r for r, last in lasts.items() if last]
        low = min(lasts[r] for r in rooms) // 2

        def want() -> tuple[int, int]:
            return rng.choice(rooms), rng.randrange(low)

        async def reader(until: float, counts: list[int]) -> None:
            n = 0
            while time.perf_counter() < until:
                room, after = want()
                page = await store.read_joined(room, after, 50, DEFAULT_METHODS)
                assert page.size == 50, page.size
                n += 1
            counts.append(n)

        figures: dict[int, list[tuple[float, float, float, float]]] = {}
        pages = store.pages  # type: ignore[attr-defined]
        for _ in range(rounds):
            for n in readers:
                counts: list[int] = []
                backends = pg_backends_cpu(url)
                used = cpu_seconds(os.getpid())
                statements = pages.statements
                until = time.perf_counter() + seconds
                await asyncio.gather(*(reader(until, counts) for _ in range(n)))
                used = cpu_seconds(os.getpid()) - used
                after = pg_backends_cpu(url)
                spent = sum(t - backends.get(pid, 0.0) for pid, t in after.items())
                total = sum(counts)
                per = total / max(1, pages.statements - statements)
                figures.setdefault(n, []).append(
                    (total / seconds, used / total * 1e6, spent / total * 1e6, per)
                )
    print(
        f"PostgreSQL history pages in process (50 messages, default methods), {rounds} rounds of"
        f" {seconds:g} s, load {' '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )
    for n, xs in figures.items():
        med = [statistics.median(x[i] for x in xs) for i in range(4)]
        print(
            f"    {n:3} readers: pages/s {med[0]:,.0f}; process CPU {med[1]:.0f} us a page"
            f" (rounds {', '.join(f'{x[1]:.0f}' for x in xs)}); backends {med[2]:.0f} us a page;"
            f" {med[3]:.1f} pages a statement"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description="PostgreSQL history pages, in process")
    parser.add_argument("--admin", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--rooms", type=int, default=200)
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--readers", type=lambda t: [int(x) for x in t.split(",")], default=[32, 1])
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--loop", choices=("auto", "uvloop", "asyncio"), default="auto")
    parser.add_argument("--rebuild", action="store_true")
    args = parser.parse_args()
    url = database(args.admin, args.rooms, args.rows, args.rebuild)
    with asyncio.Runner(loop_factory=runtime.loop_factory(args.loop)) as runner:
        print(f"(this process: {runtime.loop_name(args.loop)} loop)")
        runner.run(measure(url, args.readers, args.seconds, args.rounds))


if __name__ == "__main__":
    main()

"""PostgreSQL: the WAL, full-page writes and backend CPU of each stored row, by relation (the
events table and each of its indexes); prints figures, asserts nothing.

``--rooms`` rooms (interleaved, as the collectors store them) each append a batch of 3 chat
records (``bench/api.py``'s record, ~560 bytes rendered, 220 bytes raw) with an upstream position
every 0.25 s through :class:`~dylive.store.postgres.PostgresStore` (its writer batches whatever
is queued), for ``--seconds``. The msg_ids are Douyin-like (unix seconds << 32 | random, per
room increasing). ``--prefill N`` first stores N rows of the same rooms, older, straight in SQL
(small payloads: the index b-trees a store with history has). A ``CHECKPOINT`` precedes the
measured window, so every page the window touches is written once in full (a full-page write:
what each checkpoint cycle costs a page touched in it).

Per round: rows stored, WAL bytes a row split by relation (record bytes without images; full-page
images, counted and in bytes) from ``pg_walinspect`` over the window (other databases' WAL
is not counted), the writer backend's CPU µs a row (``/proc/<pid>/stat``: the server must be on
this machine), and afterwards each index's size and leaf density (``pgstattuple``).
The schema is the one the ``dylive`` on ``PYTHONPATH`` migrates to; ``--ddl SQL`` runs after the
migrations (try an index variant without a migration). Runs in a fresh schema of
``DYLIVE_BENCH_POSTGRES`` (default ``postgresql://postgres@127.0.0.1:5432/test``), dropped after.

Usage: ``python bench/pg_indexes.py [--rooms 200 --seconds 20 --prefill 500000 --ddl SQL]``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
import time
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))
from api import record
from pgtemp import fresh_schema

from dylive.store.migrations import to_signed
from dylive.store.postgres import PostgresStore
from dylive.store.records import UpstreamPosition

ADMIN_URL = os.environ.get("DYLIVE_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
ROOM0 = 7_000_000_000_000_000_000

# the rows of ``--prefill``: room i % rooms, 12 rows a room a second, seconds before ``t0``
_PREFILL = """
INSERT INTO events (room_id, msg_id, method, created_at, stored_at, rendered, raw)
SELECT %(room0)s + (i %% %(rooms)s) * 7919,
    ((%(t0)s::int8 - %(span)s + i / (%(rooms)s * 12)) << 32) | ((i / %(rooms)s) %% 1048576),
    'WebcastChatMessage', 1, 0, '\\x7b7d'::bytea, '\\x00'::bytea
FROM generate_series(0, %(n)s - 1) AS i
"""

# WAL of the window by relation: record bytes (without images), images, image bytes
_WAL = """
WITH w AS MATERIALIZED (
    SELECT substring(block_ref from 'rel \\d+/\\d+/(\\d+)')::oid AS node, count(*) AS n,
        sum(record_length - fpi_length) AS plain, sum(fpi_length) AS image,
        sum((length(block_ref) - length(replace(block_ref, 'FPW', ''))) / 3) AS fpis
    FROM pg_get_wal_records_info(%s, %s)
    WHERE block_ref LIKE '%%/' || (SELECT oid FROM pg_database WHERE datname = current_database())
        || '/%%'
    GROUP BY 1
)
SELECT coalesce(c.relname, 'other'), sum(w.n), sum(w.plain), sum(w.fpis), sum(w.image)
FROM w LEFT JOIN pg_class AS c ON c.relfilenode = w.node AND c.relnamespace = %s::regnamespace
GROUP BY 1 ORDER BY 3 DESC
"""

_INDEXES = """
SELECT c.relname, pg_relation_size(c.oid), s.avg_leaf_density
FROM pg_index AS i JOIN pg_class AS c ON c.oid = i.indexrelid, pgstatindex(c.oid::regclass) AS s
WHERE i.indrelid = 'events'::regclass ORDER BY 1
"""


class Ids:
    """A room's msg_ids as the simulator makes them (``sim/rooms.py`` ``IdAllocator``)."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.last = 0

    def next(self) -> int:
        candidate = (int(time.time()) << 32) | self.rng.getrandbits(20)
        self.last = max(self.last + 1 + self.rng.getrandbits(8), candidate)
        return self.last


def ticks(pid: int) -> int:
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    return int(fields[11]) + int(fields[12])


async def run(url: str, admin: psycopg.Connection, schema: str, args: argparse.Namespace) -> None:
    rooms = [ROOM0 + r * 7919 for r in range(args.rooms)]
    async with PostgresStore(url) as store:
        pid = store._wconn.info.backend_pid  # the writer's backend
        ids = {r: Ids(r) for r in rooms}
        stop = time.monotonic() + 3 + args.seconds
        marks: dict[str, tuple[str, int, int]] = {}

        async def room(r: int) -> None:
            await asyncio.sleep(random.random() * 0.25)
            while time.monotonic() < stop:
                batch = [record(r, ids[r].next()) for _ in range(3)]
                position = UpstreamPosition(r, "push", cursor=f"c{batch[-1].msg_id}")
                await store.append(batch, position=position)
                await asyncio.sleep(0.25)

        async def window() -> None:
            await asyncio.sleep(3)  # ramp
            # keeps the window's WAL until it is read (a temporary slot: dropped at disconnect)
            admin.execute("SELECT pg_create_physical_replication_slot(%s, true, true)", (schema,))
            admin.execute("CHECKPOINT")
            for name in ("start", "end"):
                lsn = str(admin.execute("SELECT pg_current_wal_insert_lsn()").fetchone()[0])
                rows = int(admin.execute(f"SELECT count(*) FROM {schema}.events").fetchone()[0])
                marks[name] = (lsn, rows, ticks(pid))
                if name == "start":
                    await asyncio.sleep(args.seconds - 0.5)

        await asyncio.gather(window(), *(room(r) for r in rooms))
    (lsn0, rows0, cpu0), (lsn1, rows1, cpu1) = marks["start"], marks["end"]
    rows = rows1 - rows0
    cpu = (cpu1 - cpu0) / os.sysconf("SC_CLK_TCK")
    print(
        f"  rows {rows:,} in {args.seconds - 0.5:.1f} s; writer backend {cpu * 1e6 / rows:.1f} µs/row;"
        f" load {os.getloadavg()[0]:.2f}"
    )
    total = [0, 0, 0, 0]
    for name, records, plain, fpis, image in admin.execute(_WAL, (lsn0, lsn1, schema)):
        for i, v in enumerate((records, plain, fpis, image)):
            total[i] += int(v) if name != "other" else 0
        print(
            f"  {name:28} records/row {records / rows:5.2f}  bytes/row {plain / rows:7.1f}"
            f"  FPI/row {fpis / rows:6.3f}  FPI bytes/row {image / rows:7.1f}"
        )
    print(
        f"  {'all':28} records/row {total[0] / rows:5.2f}  bytes/row {total[1] / rows:7.1f}"
        f"  FPI/row {total[2] / rows:6.3f}  FPI bytes/row {total[3] / rows:7.1f}"
        f"  WAL bytes/row {(total[1] + total[3]) / rows:7.1f}"
    )
    print("  (all: this schema's relations; other: other schemas of the database)")
    admin.execute(f"SET search_path = {schema}, public")
    for name, size, density in admin.execute(_INDEXES):
        print(f"  index {name:26} {size / 2**20:7.1f} MiB  leaf density {density:5.1f} %")
    admin.execute("RESET search_path")


def main(args: argparse.Namespace) -> None:
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        admin.execute("CREATE EXTENSION IF NOT EXISTS pg_walinspect")
        admin.execute("CREATE EXTENSION IF NOT EXISTS pgstattuple")
        with fresh_schema(ADMIN_URL, admin=admin) as fresh:
            schema, url = fresh.name, fresh.url

            async def migrate() -> None:
                async with PostgresStore(url):
                    pass

            asyncio.run(migrate())
            admin.execute(f"SET search_path = {schema}")
            ddl = 0.0
            if args.ddl and not args.ddl_after:
                started = time.perf_counter()
                admin.execute(args.ddl.encode())
                ddl = time.perf_counter() - started
            if args.prefill:
                span = args.prefill // (args.rooms * 12) + 60
                admin.execute(
                    _PREFILL,
                    {
                        "room0": to_signed(ROOM0),
                        "rooms": args.rooms,
                        "t0": int(time.time()),
                        "span": span,
                        "n": args.prefill,
                    },
                )
                admin.execute("VACUUM ANALYZE events")
            if args.ddl and args.prefill and args.ddl_after:
                started = time.perf_counter()
                admin.execute(args.ddl.encode())
                ddl = time.perf_counter() - started
            admin.execute("RESET search_path")
            print(f"rooms {args.rooms}, prefill {args.prefill:,}, ddl {args.ddl!r} ({ddl:.2f} s)")
            asyncio.run(run(url, admin, schema, args))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rooms", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--prefill", type=int, default=500_000, help="rows stored before")
    parser.add_argument("--ddl", default="", help="SQL run after the migrations")
    parser.add_argument(
        "--ddl-after", action="store_true", help="run --ddl after the prefill (timed)"
    )
    main(parser.parse_args())

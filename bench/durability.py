"""Durability: ``dylive serve`` killed and restarted, storage taken away; prints figures.

The simulator's contract room emits at ``--rate`` messages/s (200 by default). For each
backend, ``dylive serve --room <it>`` runs as a subprocess and is SIGKILLed ``--kills`` times
at random moments (after 2–6 s up) and restarted (after 0.5–3 s down); a last run ends with
SIGTERM. Then every stored msg_id is compared with the simulator's ground-truth log
(``GET /__sim/rooms/{web_rid}/log``): from the first stored message to the last, each log entry
must be stored exactly once, in emission order.

PostgreSQL outage: ``dylive serve`` reaches PostgreSQL through a TCP proxy in this process;
mid-run the proxy goes down for ``--outage`` seconds (open connections cut, new ones refused;
the shared server itself is not touched), then comes back. Printed: lost/duplicated as above,
and how long after the database is back the first new message is stored.

Usage: ``python bench/durability.py [sqlite] [postgres] [outage] [--rate R --kills N
--outage S --seed N --pg URL]`` (default: all three; PostgreSQL parts need a server: 127.0.0.1:5432
or ``DYLIVE_TEST_POSTGRES``). Each PostgreSQL run uses its own schema, dropped afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import random
import signal
import sqlite3
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from pgtemp import Schema, fresh_schema, schema_url

from dylive.sim import DEFAULT_WEB_RID, SimConfig, SimServer
from dylive.sim.tcpproxy import TcpProxy
from dylive.store.migrations import to_signed, to_unsigned

PG_DEFAULT = os.environ.get("DYLIVE_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")


@dataclass
class Result:
    name: str
    stored: int
    lost: int
    duplicated: int
    misordered: int
    span: int  # log entries from the first stored message to the last
    tail: int  # log entries after the last stored one when the last server stopped
    kills: int
    note: str = ""

    def line(self) -> str:
        return (
            f"{self.name:<10} kills={self.kills}  stored={self.stored:>6}  span={self.span:>6}"
            f"  lost={self.lost}  duplicated={self.duplicated}  misordered={self.misordered}"
            f"  not-yet-stored-at-stop={self.tail}{'  ' + self.note if self.note else ''}"
        )


# -- the service under test -------------------------------------------------------------------
async def start_serve(db: str, upstream: str) -> asyncio.subprocess.Process:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        *("-m", "dylive", "--log-level", "error", "serve", "--db", db),
        *("--upstream", upstream, "--port", "0", "--room", DEFAULT_WEB_RID, "--signing", "off"),
        stdout=asyncio.subprocess.PIPE,
        env={**os.environ, "DYLIVE_SIGNING": "off"},
    )
    assert proc.stdout is not None
    line = await asyncio.wait_for(proc.stdout.readline(), 60)
    if not line.startswith(b"dylive serve: listening on "):
        proc.kill()
        raise RuntimeError(f"dylive serve did not start: {line!r}")
    return proc


async def stop_serve(proc: asyncio.subprocess.Process, sig: int) -> None:
    if proc.returncode is None:
        proc.send_signal(sig)
        try:
            await asyncio.wait_for(proc.wait(), 30)
        except TimeoutError:
            proc.kill()
            await proc.wait()


# -- reading what was stored ------------------------------------------------------------------
def stored_sqlite(db: str, room_id: int) -> list[int]:
    conn = sqlite3.connect(db)
    try:
        rows = conn.execute(
            "SELECT msg_id FROM events WHERE room_id = ? ORDER BY seq", (to_signed(room_id),)
        ).fetchall()
    finally:
        conn.close()
    return [to_unsigned(r[0]) for r in rows]


def stored_pg(url: str, room_id: int) -> list[int]:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT msg_id FROM events WHERE room_id = %s ORDER BY seq", (to_signed(room_id),)
        ).fetchall()
    return [to_unsigned(r[0]) for r in rows]


def count_pg(url: str, room_id: int) -> int:
    import psycopg

    with psycopg.connect(url, autocommit=True, connect_timeout=5) as conn:
        row = conn.execute(
            "SELECT count(*) FROM events WHERE room_id = %s", (to_signed(room_id),)
        ).fetchone()
    return int(row[0]) if row else 0


def compare(name: str, log: list[int], stored: list[int], kills: int) -> Result:
    index = {m: i for i, m in enumerate(log)}
    dup = len(stored) - len(set(stored))
    if not stored:
        return Result(name, 0, len(log), dup, 0, 0, len(log), kills, "nothing stored")
    foreign = [m for m in stored if m not in index]
    positions = [index[m] for m in stored if m in index]
    lo, hi = min(positions), max(positions)
    have = set(stored)
    lost = sum(1 for m in log[lo : hi + 1] if m not in have)
    misordered = sum(1 for a, b in itertools.pairwise(positions) if b < a)
    note = f"{len(foreign)} stored ids not in the log" if foreign else ""
    return Result(
        name, len(stored), lost, dup, misordered, hi - lo + 1, len(log) - hi - 1, kills, note
    )


# -- scenarios --------------------------------------------------------------------------------
async def kill_cycles(db: str, sim: SimServer, kills: int, rng: random.Random) -> None:
    """Run ``dylive serve`` ``kills`` times, SIGKILLed at random moments, then once more
    ended with SIGTERM."""
    for i in range(kills + 1):
        proc = await start_serve(db, sim.base_url)
        await asyncio.sleep(rng.uniform(2.0, 6.0))
        last = i == kills
        await stop_serve(proc, signal.SIGTERM if last else signal.SIGKILL)
        if not last:
            await asyncio.sleep(rng.uniform(0.5, 3.0))


async def sim_with_rate(rate: float, seed: int) -> SimServer:
    sim = SimServer(SimConfig(seed=seed, rate=rate))
    await sim.__aenter__()
    for room in sim.rooms():
        if room["web_rid"] != DEFAULT_WEB_RID and room.get("live"):
            sim.set_rate(room["web_rid"], 1.0)  # only the measured room runs at full rate
    return sim


def log_ids(sim: SimServer, room_id: int) -> list[int]:
    return [int(e["msg_id"]) for e in sim.log(DEFAULT_WEB_RID) if int(e["room_id"]) == room_id]


async def run_sqlite(args: argparse.Namespace, rng: random.Random) -> Result:
    sim = await sim_with_rate(args.rate, args.seed)
    try:
        room_id = sim.room_id(DEFAULT_WEB_RID)
        with tempfile.TemporaryDirectory() as tmp:
            db = str(Path(tmp) / "durability.sqlite3")
            await kill_cycles(db, sim, args.kills, rng)
            return compare("sqlite", log_ids(sim, room_id), stored_sqlite(db, room_id), args.kills)
    finally:
        await sim.__aexit__(None, None, None)


def schema_at(schema: Schema, port: int | None = None) -> str:
    """The schema's URL, through ``port`` (a fault proxy's) instead of the server's own."""
    parts = urlsplit(schema.admin_url)
    host = parts.hostname or "127.0.0.1"
    user = f"{parts.username}@" if parts.username else ""
    netloc = f"{user}{host}:{port or parts.port or 5432}"
    return schema_url(f"postgresql://{netloc}{parts.path}", schema.name)


async def run_postgres(args: argparse.Namespace, rng: random.Random) -> Result:
    sim = await sim_with_rate(args.rate, args.seed + 1)
    try:
        room_id = sim.room_id(DEFAULT_WEB_RID)
        with fresh_schema(args.pg) as schema:
            await kill_cycles(schema_at(schema), sim, args.kills, rng)
            stored = stored_pg(schema_at(schema), room_id)
            return compare("postgres", log_ids(sim, room_id), stored, args.kills)
    finally:
        await sim.__aexit__(None, None, None)


async def run_outage(args: argparse.Namespace) -> tuple[Result, float | None]:
    """One serve run through a proxy; the proxy is down for ``args.outage`` s mid-run."""
    sim = await sim_with_rate(args.rate, args.seed + 2)
    target = urlsplit(args.pg)
    try:
        room_id = sim.room_id(DEFAULT_WEB_RID)
        with fresh_schema(args.pg) as schema:
            async with TcpProxy(target.hostname or "127.0.0.1", target.port or 5432) as proxy:
                proc = await start_serve(schema_at(schema, proxy.port), sim.base_url)
                try:
                    await asyncio.sleep(4.0)
                    await proxy.down()
                    await asyncio.sleep(args.outage)
                    before = await asyncio.to_thread(count_pg, schema_at(schema), room_id)
                    await proxy.up()
                    back = time.monotonic()
                    resumed = await wait_growth(schema_at(schema), room_id, before, back)
                    await asyncio.sleep(4.0)
                finally:
                    await stop_serve(proc, signal.SIGTERM)
            stored = stored_pg(schema_at(schema), room_id)
            return compare("pg-outage", log_ids(sim, room_id), stored, 0), resumed
    finally:
        await sim.__aexit__(None, None, None)


async def wait_growth(url: str, room_id: int, before: int, since: float) -> float | None:
    """Seconds from ``since`` until more than ``before`` rows are stored (None after 60 s)."""
    while time.monotonic() - since < 60:
        if await asyncio.to_thread(count_pg, url, room_id) > before:
            return time.monotonic() - since
        await asyncio.sleep(0.05)
    return None


async def main(args: argparse.Namespace) -> int:
    rng = random.Random(args.seed)
    parts = args.parts or ["sqlite", "postgres", "outage"]
    print(
        f"durability: simulator room at {args.rate:g} msg/s; {args.kills} SIGKILLs at random"
        f" moments (2-6 s up, 0.5-3 s down) + a final SIGTERM; seed {args.seed}"
    )
    results: list[Result] = []
    if "sqlite" in parts:
        results.append(await run_sqlite(args, rng))
        print(results[-1].line(), flush=True)
    if "postgres" in parts:
        results.append(await run_postgres(args, rng))
        print(results[-1].line(), flush=True)
    if "outage" in parts:
        result, resumed = await run_outage(args)
        results.append(result)
        print(result.line(), flush=True)
        took = "did not resume within 60 s" if resumed is None else f"{resumed:.2f} s"
        print(
            f"pg-outage  database down {args.outage:g} s; ingestion resumed {took} after it was back"
        )
    bad = [r for r in results if r.lost or r.duplicated or r.misordered or not r.stored]
    print(
        "verdict: "
        + ("0 lost, 0 duplicated" if not bad else "FAILED: " + ", ".join(r.name for r in bad))
    )
    return 1 if bad else 0


def parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("parts", nargs="*", help="sqlite, postgres, outage (default: all)")
    p.add_argument("--rate", type=float, default=200.0)
    p.add_argument("--kills", type=int, default=5)
    p.add_argument("--outage", type=float, default=5.0)
    p.add_argument("--seed", type=int, default=int(time.time()) % 10_000)
    p.add_argument("--pg", default=PG_DEFAULT, help="PostgreSQL admin URL (a schema is created)")
    return p.parse_args(argv)


if __name__ == "__main__":
    sys.exit(asyncio.run(main(parse(sys.argv[1:]))))

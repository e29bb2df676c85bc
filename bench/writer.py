"""The SQLite writer paced like the collectors; prints figures (no assertions).

``--rooms`` rooms each append a batch of 3 chat records with an upstream position every 0.25 s
(what a pushed room at 12 messages/s looks like to the store: one append per push frame) into one
:class:`~dylive.store.SQLiteStore` for ``--seconds`` after a 3 s ramp. Prints the rows stored per
second, the commits, and the CPU per stored row of the writer thread and of the whole process
(per-thread figures from /proc: the store's writer thread is the busiest thread that is not the
event loop's). ``--checkpoint 1000,10000`` runs one round per value of ``wal_autocheckpoint``
(pages of WAL between automatic checkpoints), alternating, ``--repeat`` times: the ratio of the
writer's CPU per row between them does not depend on how busy the machine is.

Usage: ``python bench/writer.py [--rooms 200 --seconds 40 --checkpoint 1000,10000 --repeat 2]``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from api import record

from dylive.store import SQLiteStore
from dylive.store.records import UpstreamPosition

ROOM0, MSG0 = 7_000_000_000_000_000_000, 7_100_000_000_000_000_000


def thread_ticks() -> dict[int, int]:
    """utime + stime (clock ticks) of every thread of this process."""
    out = {}
    for tid in os.listdir("/proc/self/task"):
        with open(f"/proc/self/task/{tid}/stat") as f:
            stat = f.read()
        fields = stat[stat.rindex(")") + 2 :].split()
        out[int(tid)] = int(fields[11]) + int(fields[12])
    return out


async def run(rooms: int, seconds: float, checkpoint: int) -> tuple[float, float, float]:
    """One round: (rows/s, writer thread µs/row, process µs/row)."""
    with tempfile.TemporaryDirectory() as tmp:
        store = SQLiteStore(Path(tmp) / "w.sqlite3", wal_autocheckpoint=checkpoint)
        async with store:
            stored = 0
            stop = time.monotonic() + seconds + 4

            async def room(r: int) -> None:
                nonlocal stored
                room_id, msg = ROOM0 + r * 7919, MSG0 + r * 10**9
                await asyncio.sleep(0.25 * r / rooms)
                while time.monotonic() < stop:
                    batch = [record(room_id, msg + i) for i in range(3)]
                    msg += 3
                    ext = f"internal_src:dim|first_req_ms:1|seq:{msg}"
                    position = UpstreamPosition(room_id, "push", cursor=f"c{msg}", internal_ext=ext)
                    await store.append(batch, position=position)
                    stored += 3
                    await asyncio.sleep(0.25)

            tasks = [asyncio.create_task(room(r)) for r in range(rooms)]
            await asyncio.sleep(3)
            before, rows0, cpu0 = thread_ticks(), stored, time.process_time()
            await asyncio.sleep(seconds)
            after, rows, cpu = thread_ticks(), stored - rows0, time.process_time() - cpu0
            await asyncio.gather(*tasks)
            commits = store.batches
    hz = os.sysconf("SC_CLK_TCK")
    loop_thread = os.getpid()
    busiest = max((after[t] - before.get(t, 0) for t in after if t != loop_thread), default=0)
    writer = busiest / hz / rows * 1e6
    print(
        f"  wal_autocheckpoint={checkpoint}: {rows / seconds:,.0f} rows/s, {commits} commits;"
        f" writer thread {writer:.1f} µs/row, process {cpu / rows * 1e6:.1f} µs/row"
    )
    return rows / seconds, writer, cpu / rows * 1e6


async def main(args: argparse.Namespace) -> None:
    values = [int(v) for v in args.checkpoint.split(",")]
    load = os.getloadavg()[0]
    print(f"writer: {args.rooms} rooms, {args.seconds:g} s a round, load {load:.2f}")
    got: dict[int, list[tuple[float, float, float]]] = {v: [] for v in values}
    for _ in range(args.repeat):
        for v in values:
            got[v].append(await run(args.rooms, args.seconds, v))
    base = statistics.median(r[1] for r in got[values[0]])
    for v in values:
        writer = statistics.median(r[1] for r in got[v])
        proc = statistics.median(r[2] for r in got[v])
        print(
            f"wal_autocheckpoint={v}: writer {writer:.1f} µs/row (median of {args.repeat}),"
            f" process {proc:.1f} µs/row; writer vs {values[0]}: {writer / base:.2f}"
        )
    print(f"load average {load:.2f} → {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rooms", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=40.0)
    parser.add_argument("--checkpoint", default="1000,10000")
    parser.add_argument("--repeat", type=int, default=2)
    asyncio.run(main(parser.parse_args()))

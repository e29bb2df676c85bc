"""The simulator's emission path without sockets: N rooms ticked for S simulated seconds.

Each tick generates a room's drafts, stamps and logs them and gzips the batch once (what a push
subscriber would get), in one process, no event loop wake-ups: the CPU per emitted message of
generation + logging + gzip, and the full (generation 2) garbage collections it triggered, with
Python's collector settings or the runtime's tuned ones (``dylive.serve.runtime.tune_gc``).

    .venv/bin/python bench/sim_tick.py                        # 500 rooms, 90 s, both gc modes
    .venv/bin/python bench/sim_tick.py --rooms 200 --seconds 30 --gc tuned
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import subprocess
import sys
import time

from dylive.serve import runtime
from dylive.sim.core import SimConfig, Simulator


async def run(rooms: int, seconds: float, tuned: bool) -> str:
    sim = Simulator(SimConfig(seed=2, rate=10.0, rooms=[]))
    for i in range(rooms):
        sim.create_room({"web_rid": str(700_000_000_000 + i)})
    if tuned:
        runtime.tune_gc("tuned")
    full = {"n": 0, "s": 0.0, "t": 0.0}

    def on_gc(phase: str, info: dict[str, int]) -> None:
        if info["generation"] != 2:
            return
        if phase == "start":
            full["t"] = time.perf_counter()
        else:
            full["n"] += 1
            full["s"] += time.perf_counter() - full["t"]

    gc.callbacks.append(on_gc)
    live = list(sim.registry.rooms.values())
    ms = time.time_ns() // 1_000_000
    emitted = 0
    started = time.process_time()
    for _ in range(int(seconds / 0.25)):
        ms += 250
        for room in live:
            entries = room.tick(ms, 0.25)
            if entries:
                emitted += len(entries)
                room.shared[entries[0].seq - 1].gz()
    cpu = time.process_time() - started
    gc.callbacks.remove(on_gc)
    return (
        f"gc {'tuned' if tuned else 'default'}: {rooms} rooms x {seconds:g} simulated s,"
        f" {emitted:,} messages, {cpu / emitted * 1e6:.1f} µs per message (generation, log,"
        f" gzip); full collections {full['n']}, {full['s']:.2f} s in all"
        f" ({full['s'] / max(1, full['n']):.2f} s each on average)"
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--rooms", type=int, default=500)
    p.add_argument("--seconds", type=float, default=90.0, help="simulated seconds")
    p.add_argument("--gc", choices=("both", "default", "tuned"), default="both")
    args = p.parse_args()
    if args.gc == "both":  # each mode in a fresh process, alternated
        for mode in ("default", "tuned", "default", "tuned"):
            cmd = [sys.executable, __file__, "--rooms", str(args.rooms), "--seconds",
                   str(args.seconds), "--gc", mode]  # fmt: skip
            subprocess.run(cmd, check=True)
        return
    print(asyncio.run(run(args.rooms, args.seconds, args.gc == "tuned")), flush=True)


if __name__ == "__main__":
    main()

# ruff: noqa: ASYNC220  (a benchmark driver: blocking setup calls are fine here)
"""Followed rooms at scale: prints figures (no assertions).

``--rooms`` (1,000) followed (pinned) rooms on the simulator, ``--live`` (10 %) of them live at a
time; broadcasts end and start at random (``--churn`` transitions per second: one live room ends
and one offline room starts, so the live share stays put) for ``--seconds``. The service
(:class:`dylive.app.Service`, SQLite, in this process) follows every room with its default
schedule (``--interval`` s between checks for an hour after a broadcast, backing off to
``--ceiling``). Reported:

- status checks and upstream HTTP requests per minute for the waiting rooms (every room-page
  resolution of the service goes through one counting client; collectors use their own);
- follow latency (a broadcast's start on the simulator → the service collecting it, told by the
  service's ``live_status`` hook), p50/p99/max, separately for anchors live within the last hour
  (ended during the run) and anchors whose last broadcast is older or unknown;
- CPU of this process (the service and the small driver; the simulator is a subprocess) as a
  share of one core, and RSS.

Usage: ``python bench/follow.py [--rooms 1000 --live 0.1 --seconds 180 --churn 2 --interval 10
--ceiling 600]``.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from dylive.app import ServiceConfig
from dylive.app.service import Service
from dylive.collect.rooms import default_resolver


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def rss_mb() -> float:
    fields = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines())
    return int(fields["VmRSS"].split()[0]) / 1024


async def wait_listening(port: int, proc: subprocess.Popen[bytes]) -> None:
    for _ in range(400):
        if proc.poll() is not None:
            raise RuntimeError(f"simulator exited with {proc.returncode}")
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return
        except OSError:
            await asyncio.sleep(0.05)
    raise RuntimeError("the simulator does not listen")


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


class Counter:
    """Counts the HTTP requests of the service's room resolutions."""

    def __init__(self) -> None:
        self.requests = 0

    async def hook(self, request: httpx.Request) -> None:
        self.requests += 1


async def run(args: argparse.Namespace, tmp: str) -> dict[str, Any]:
    port = free_port()
    sim = subprocess.Popen(
        [sys.executable, "-m", "dylive", "sim", "--port", str(port), "--rate", "0.5"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    rng = random.Random(5)
    web_rids = [str(710_000_000_000 + i) for i in range(args.rooms)]
    live_count = max(1, int(args.rooms * args.live))
    try:
        await wait_listening(port, sim)
        base = f"http://127.0.0.1:{port}"
        control = httpx.AsyncClient(base_url=base, timeout=60)
        for w in web_rids:
            (
                await control.post("/__sim/rooms", json={"web_rid": w, "rate": 0.5})
            ).raise_for_status()
        live = set(rng.sample(web_rids, live_count))
        for w in web_rids:
            if w not in live:
                (await control.post(f"/__sim/rooms/{w}/end")).raise_for_status()
        counter = Counter()
        client = httpx.AsyncClient(timeout=10, event_hooks={"request": [counter.hook]})
        config = ServiceConfig(
            db=str(Path(tmp) / "follow.sqlite3"),
            upstream=base,
            signing="off",
            ranklist=False,
            pins=web_rids,
            follow_interval=args.interval,
            follow_ceiling=args.ceiling,
            resolver=default_resolver(upstream=base, signing="off", client=client),
        )
        svc = Service(config)
        started_at: dict[str, float] = {}  # web_rid -> when its current broadcast started
        ended_at: dict[str, float] = {}  # web_rid -> when its last broadcast ended (this run)
        latencies: dict[str, list[float]] = {"recent": [], "older": []}

        def told(events: list[dict[str, Any]]) -> None:
            now = time.time()
            for e in events:
                w = str(e.get("web_rid", ""))
                if e.get("status") == "live" and w in started_at:
                    group = "recent" if now - ended_at.get(w, -1e9) < 3600 else "older"
                    latencies[group].append(now - started_at.pop(w))

        t0 = time.time()
        await svc.start()
        svc.rooms.on_live_status = told
        startup = time.time() - t0
        follows = svc.rooms.follows
        await asyncio.sleep(5.0)  # collectors connect, first checks staggered

        checks0 = sum(f.checks for f in follows.rooms.values())
        requests0 = counter.requests
        cpu0, wall0 = time.process_time(), time.time()
        rss0 = rss_mb()
        deadline = wall0 + args.seconds
        transitions = 0
        unseen = 0
        while time.time() < deadline:
            await asyncio.sleep(rng.expovariate(args.churn))
            ending = rng.choice(sorted(live))
            offline = [w for w in web_rids if w not in live]
            starting = rng.choice(offline)
            if (await control.post(f"/__sim/rooms/{ending}/end")).status_code == 200:
                live.discard(ending)
                ended_at[ending] = time.time()
                if started_at.pop(ending, None) is not None:
                    unseen += 1  # ended before any check could find it: not a latency sample
            if (await control.post(f"/__sim/rooms/{starting}/start")).status_code == 200:
                live.add(starting)
                started_at[starting] = time.time()
            transitions += 1
        wall = time.time() - wall0
        cpu = time.process_time() - cpu0
        checks = sum(f.checks for f in follows.rooms.values()) - checks0
        requests = counter.requests - requests0
        await asyncio.sleep(args.interval * 2.5)  # the last starts are found
        states = follows.counts()
        rss = rss_mb()
        await svc.stop()
        await client.aclose()
        await control.aclose()
    finally:
        sim.terminate()
        try:
            sim.wait(5)
        except subprocess.TimeoutExpired:
            sim.kill()
    waiting = args.rooms - live_count
    return {
        "rooms": args.rooms,
        "live": live_count,
        "startup_s": startup,
        "seconds": wall,
        "transitions": transitions,
        "checks_per_min": checks / wall * 60,
        "requests_per_min": requests / wall * 60,
        "requests_per_waiting_room_per_min": requests / wall * 60 / max(1, waiting),
        "latency": latencies,
        "missed": len(started_at),
        "unseen": unseen,
        "cpu_share": cpu / wall,
        "rss_start_mb": rss0,
        "rss_end_mb": rss,
        "states": states,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rooms", type=int, default=1000)
    parser.add_argument("--live", type=float, default=0.1)
    parser.add_argument("--seconds", type=float, default=180.0)
    parser.add_argument("--churn", type=float, default=2.0, help="transitions per second")
    parser.add_argument("--interval", type=float, default=10.0)
    parser.add_argument("--ceiling", type=float, default=600.0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp:
        r = asyncio.run(run(args, tmp))
    print(
        f"{r['rooms']} followed rooms, {r['live']} live at a time; {r['transitions']} end/start"
        f" pairs in {r['seconds']:.0f} s (startup: every room pinned in {r['startup_s']:.1f} s)"
    )
    print(
        f"waiting rooms: {r['checks_per_min']:.0f} status checks/min,"
        f" {r['requests_per_min']:.0f} upstream HTTP requests/min"
        f" ({r['requests_per_waiting_room_per_min']:.2f} per waiting room per minute)"
    )
    for group, values in r["latency"].items():
        if values:
            print(
                f"follow latency ({group}: {len(values)} broadcasts): p50"
                f" {statistics.median(values):.1f} s, p99 {pct(values, 0.99):.1f} s,"
                f" max {max(values):.1f} s"
            )
    print(
        f"broadcasts that ended before a check found them: {r['unseen']}; started in the last"
        f" seconds and not yet found at the end: {r['missed']}"
    )
    print(
        f"service CPU {r['cpu_share'] * 100:.0f} % of one core (with {r['live']} rooms"
        f" collecting); RSS {r['rss_start_mb']:.0f} MB → {r['rss_end_mb']:.0f} MB;"
        f" rooms per state at the end: {r['states']}"
    )


if __name__ == "__main__":
    main()

"""Collector benchmark: one Supervisor process against a simulator process.

    .venv/bin/python bench/collector.py --rooms 500 --rate 10 --seconds 60
    .venv/bin/python bench/collector.py --service --uvloop --rooms 200 --seconds 20

Starts ``dylive sim`` as a separate process, creates the rooms through its control plane, runs
every room in one Supervisor here, then ends the broadcasts and compares what was collected
with the simulator's logs. Prints rooms connected, messages/s, this process's CPU % and RSS,
µs of CPU per message (the process, and the event loop's thread alone), loss and duplicates.

``--service``: the service's collector path instead of the Supervisor: per room the identity
pool's source (``PooledRoom``, ``CollectorOptions(direct=True)``) read by the room's ingestion
(``collect.ingest.Ingest``) into a store that keeps nothing but the msg_ids it is handed (no
SQLite: the path from the socket to ``EventLog.append``). Compare trees with
``PYTHONPATH=<tree>/src``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import socket
import subprocess
import sys
import time
from collections import Counter
from typing import Any

import httpx

from dylive.source.collector import CollectorOptions
from dylive.source.supervisor import Supervisor

BASE_RID = 900_000_000_000


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def start_sim(port: int, rate: float) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-m", "dylive", "--log-level", "warning", "sim", "--port", str(port)]
    cmd += ["--rate", str(rate), "--heartbeat-timeout", "30"]
    proc = subprocess.Popen(cmd)  # noqa: ASYNC220 - the simulator must outlive this call
    async with httpx.AsyncClient() as c:
        for _ in range(100):
            with contextlib.suppress(httpx.HTTPError):
                if (await c.get(f"http://127.0.0.1:{port}/__sim/rooms")).status_code == 200:
                    return proc
            await asyncio.sleep(0.1)
    proc.kill()
    raise SystemExit("simulator did not start")


async def create_rooms(base: str, n: int, rate: float) -> list[str]:
    rids = [str(BASE_RID + i) for i in range(n)]
    async with httpx.AsyncClient(timeout=30) as c:
        for rid in rids:
            r = await c.post(f"{base}/__sim/rooms", json={"web_rid": rid, "rate": rate})
            r.raise_for_status()
    return rids


async def run(args: argparse.Namespace) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    sim = await start_sim(port, args.rate)
    try:
        await (bench_service(base, args) if args.service else bench(base, args))
    finally:
        sim.terminate()
        sim.wait(10)


async def bench(base: str, args: argparse.Namespace) -> None:
    rids = await create_rooms(base, args.rooms, args.rate)
    got: dict[str, list[int]] = {rid: [] for rid in rids}
    ended: set[str] = set()
    opts = CollectorOptions(fake_alive_timeout=60.0)
    t0 = time.monotonic()
    async with Supervisor(upstream=base, options=opts, queue_size=50_000) as sup:
        for rid in rids:
            sup.add(rid)

        async def drain() -> None:
            async for key, event in sup:
                got[key].append(event.msg_id)
                if event.method == "WebcastControlMessage":
                    ended.add(key)

        consumer = asyncio.create_task(drain())
        while sum(s.state == "live" for s in sup.status().values()) < len(rids):
            if time.monotonic() - t0 > 60:
                break
            await asyncio.sleep(0.5)
        ramp = time.monotonic() - t0
        print(
            f"ramp-up: {ramp:.1f} s to connect {sum(s.state == 'live' for s in sup.status().values())} rooms"
        )
        n0, cpu0, w0 = sum(map(len, got.values())), time.process_time(), time.monotonic()
        loop0 = time.thread_time()
        held_min, peak_rss = len(rids), rss_mb()
        while time.monotonic() - w0 < args.seconds:
            await asyncio.sleep(1.0)
            held_min = min(held_min, sum(s.state == "live" for s in sup.status().values()))
            peak_rss = max(peak_rss, rss_mb())
        wall, cpu = time.monotonic() - w0, time.process_time() - cpu0
        loop_cpu = time.thread_time() - loop0
        n1 = sum(map(len, got.values()))
        st = sup.status().values()
        reconnects = sum(s.reconnects for s in st)
        async with httpx.AsyncClient(timeout=30) as c:
            for rid in rids:
                await c.post(f"{base}/__sim/rooms/{rid}/end")
            deadline = time.monotonic() + 30
            while len(ended) < len(rids) and time.monotonic() < deadline:  # noqa: ASYNC110
                await asyncio.sleep(0.5)
            loss = dups = total = 0
            for rid in rids:
                log = [
                    int(e["msg_id"]) for e in (await c.get(f"{base}/__sim/rooms/{rid}/log")).json()
                ]
                ids = got[rid]
                dups += sum(v - 1 for v in Counter(ids).values() if v > 1)
                if ids:
                    index = {m: i for i, m in enumerate(log)}
                    have = set(ids)
                    lo = min(index[m] for m in have if m in index)
                    loss += sum(1 for m in log[lo:] if m not in have)
                else:
                    loss += len(log)
                total += len(log)
        consumer.cancel()
    print(f"rooms: {len(rids)}  held (min over the run): {held_min}  ended cleanly: {len(ended)}")
    print(f"messages/s collected: {(n1 - n0) / wall:.0f}  (target {len(rids) * args.rate:.0f})")
    print(
        f"collector CPU: {100 * cpu / wall:.1f} %  RSS: {rss_mb():.0f} MB (peak {peak_rss:.0f} MB)"
    )
    print_cpu(cpu, loop_cpu, n1 - n0)
    print(f"reconnects: {reconnects}  loss: {loss}  duplicates: {dups}  (log messages: {total})")


def print_cpu(cpu: float, loop_cpu: float, n: int) -> None:
    print(
        f"µs CPU per message: {1e6 * cpu / max(n, 1):.1f}"
        f"  (event loop thread {1e6 * loop_cpu / max(n, 1):.1f})  messages in the window: {n}"
    )


class NullLog:
    """The part of ``EventLog`` ingestion calls: appends keep the msg_ids, nothing else."""

    def __init__(self) -> None:
        self.ids: dict[int, list[int]] = {}
        self.appended = 0

    async def upstream_position(self, room_id: int) -> None:
        return None

    async def messages_of(self, room_id: int, methods: object, after: int) -> list[object]:
        return []

    async def append(self, records: list[Any], *, position: Any = None, fence: Any = None) -> int:
        for r in records:
            self.ids.setdefault(r.room_id, []).append(r.msg_id)
        self.appended += len(records)
        return len(records)

    async def quarantine(self, record: Any, error: str) -> None:
        raise AssertionError(f"quarantined {record.msg_id}: {error}")


async def bench_service(base: str, args: argparse.Namespace) -> None:
    from dylive.collect.ingest import Ingest, RoomState
    from dylive.identity.pool import IdentityPool
    from dylive.identity.source import pool_source
    from dylive.source.credentials import Identity
    from dylive.source.room import RoomInfo

    rids = await create_rooms(base, args.rooms, args.rate)
    store = NullLog()
    factory = pool_source(
        IdentityPool(None, fallback=Identity()),
        upstream=base,
        options=CollectorOptions(fake_alive_timeout=60.0, direct=True),
    )
    # room_id: a key of the stub store's ids (the collector resolves the web_rid itself)
    states = [
        RoomState(RoomInfo(web_rid=rid, room_id=i + 1, status=2)) for i, rid in enumerate(rids)
    ]
    tasks = [
        asyncio.create_task(Ingest(st, store, factory).run())  # type: ignore[arg-type]
        for st in states
    ]
    t0 = time.monotonic()
    while sum(st.source is not None and st.stored > 0 for st in states) < len(rids):
        if time.monotonic() - t0 > 60:
            break
        await asyncio.sleep(0.5)
    live = sum(st.stored > 0 for st in states)
    print(f"ramp-up: {time.monotonic() - t0:.1f} s for {live} rooms to store a batch")
    await asyncio.sleep(2.0)  # settle: the rooms' backlogs are stored
    n0, cpu0, loop0, w0 = store.appended, time.process_time(), time.thread_time(), time.monotonic()
    peak_rss = rss_mb()
    while time.monotonic() - w0 < args.seconds:
        await asyncio.sleep(1.0)
        peak_rss = max(peak_rss, rss_mb())
    wall, cpu = time.monotonic() - w0, time.process_time() - cpu0
    loop_cpu, n = time.thread_time() - loop0, store.appended - n0
    async with httpx.AsyncClient(timeout=30) as c:
        for rid in rids:
            await c.post(f"{base}/__sim/rooms/{rid}/end")
        deadline = time.monotonic() + 30
        while not all(t.done() for t in tasks) and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.5)
        loss = dups = total = 0
        for st in states:
            rid = st.info.web_rid
            log = [int(e["msg_id"]) for e in (await c.get(f"{base}/__sim/rooms/{rid}/log")).json()]
            ids = store.ids.get(st.room_id, [])
            dups += sum(v - 1 for v in Counter(ids).values() if v > 1)
            have, index = set(ids), {m: i for i, m in enumerate(log)}
            lo = min((index[m] for m in have if m in index), default=len(log))
            loss += sum(1 for m in log[lo:] if m not in have) if ids else len(log)
            total += len(log)
    ended = sum(t.done() for t in tasks)
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    print(f"rooms: {len(rids)}  stored a batch: {live}  ended cleanly: {ended}")
    print(f"messages/s stored: {n / wall:.0f}  (target {len(rids) * args.rate:.0f})")
    print(f"process CPU: {100 * cpu / wall:.1f} %  RSS: {rss_mb():.0f} MB (peak {peak_rss:.0f} MB)")
    print_cpu(cpu, loop_cpu, n)
    print(f"loss: {loss}  duplicates: {dups}  (log messages: {total})")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--rooms", type=int, default=500)
    p.add_argument("--rate", type=float, default=10.0)
    p.add_argument("--seconds", type=float, default=60.0)
    p.add_argument("--service", action="store_true", help="the service's path (see above)")
    p.add_argument("--uvloop", action="store_true", help="on uvloop (as the service runs)")
    args = p.parse_args()
    os.environ.setdefault("DYLIVE_LOG_LEVEL", "warning")
    if args.uvloop:
        import uvloop

        uvloop.run(run(args))
    else:
        asyncio.run(run(args))


if __name__ == "__main__":
    main()

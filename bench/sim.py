"""Simulator scale benchmark: N push connections over R rooms at M messages/s each.

Starts ``dylive sim`` in a subprocess on 127.0.0.1, creates the rooms through the control
plane, opens the connections with a minimal spec client (websockets + frame codec + push
signer; acks every msg frame, heartbeats every 10 s), holds them, and prints:
connections held, messages/s and frames/s delivered (client side), delivery latency
(``im-now`` header → receipt), simulator CPU % (of one core) and RSS.

    .venv/bin/python bench/sim.py                      # 1000 connections, 200 rooms, 5 msg/s, 30 s
    .venv/bin/python bench/sim.py --connections 200 --rooms 40 --seconds 10
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import socket
import sys
import time
from dataclasses import dataclass, field
from urllib.parse import urlencode

import httpx
import websockets

from dylive.proto import webcast_pb2 as pb
from dylive.wire.frames import HEARTBEAT_FRAME, build_ack, gunzip
from dylive.wire.signing import sign_push

CLK_TCK = os.sysconf("SC_CLK_TCK")


@dataclass
class Totals:
    messages: int = 0
    frames: int = 0
    open: int = 0
    failed: int = 0
    closed: int = 0
    latencies: list[float] = field(default_factory=list)
    counting: bool = False


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime + stime


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def push_url(port: int, room_id: int, uid: int) -> str:
    params = {
        "app_name": "douyin_web",
        "version_code": "180800",
        "webcast_sdk_version": "1.0.14-beta.0",
        "compress": "gzip",
        "device_platform": "web",
        "aid": "6383",
        "live_id": "1",
        "did_rule": "3",
        "user_unique_id": str(7_300_000_000_000_000_000 + uid),
        "identity": "audience",
        "room_id": str(room_id),
        "cursor": "",
        "internal_ext": "",
    }
    params["signature"] = sign_push(params)
    return f"ws://127.0.0.1:{port}/webcast/im/push/v2/?{urlencode(params)}"


async def client(url: str, totals: Totals, stop: asyncio.Event) -> None:
    try:
        ws = await websockets.connect(url, max_size=None, open_timeout=30)
    except Exception:
        totals.failed += 1
        return
    totals.open += 1

    async def beat() -> None:
        with contextlib.suppress(websockets.ConnectionClosed):
            while True:
                await asyncio.sleep(10)
                await ws.send(HEARTBEAT_FRAME)

    hb = asyncio.create_task(beat())
    try:
        async for data in ws:
            frame = pb.PushFrame.FromString(data)
            if frame.payload_type != "msg":
                continue
            headers = {h.key: h.value for h in frame.headers}
            resp = pb.Response.FromString(gunzip(frame.payload))
            await ws.send(build_ack(frame.log_id, headers.get("im-internal_ext", "")))
            if totals.counting:
                totals.frames += 1
                totals.messages += len(resp.messages)
                if totals.frames % 10 == 0:
                    totals.latencies.append(time.time() * 1000 - int(headers["im-now"]))
    except websockets.ConnectionClosed:
        if not stop.is_set():
            totals.closed += 1
    finally:
        totals.open -= 1
        hb.cancel()
        await ws.close()


async def setup_rooms(base: str, rooms: int, rate: float) -> list[int]:
    async with httpx.AsyncClient(base_url=base, timeout=10) as http:
        for _ in range(200):
            with contextlib.suppress(httpx.TransportError):
                if (await http.get("/__sim/stats")).status_code == 200:
                    break
            await asyncio.sleep(0.1)
        for i in range(rooms):
            r = await http.post("/__sim/rooms", json={"web_rid": str(900_000 + i), "rate": rate})
            r.raise_for_status()
        listing = (await http.get("/__sim/rooms")).json()
    return [r["room_id"] for r in listing if len(r["web_rid"]) == 6 and r["web_rid"][:2] == "90"]


async def run(args: argparse.Namespace) -> None:
    port = free_port()
    cmd = [sys.executable, "-m", "dylive", "--log-level", "warning", "sim", "--port", str(port),
           "--rate", str(args.rate), "--seed", "1"]  # fmt: skip
    proc = await asyncio.create_subprocess_exec(*cmd)
    totals, stop = Totals(), asyncio.Event()
    tasks: list[asyncio.Task[None]] = []
    try:
        room_ids = await setup_rooms(f"http://127.0.0.1:{port}", args.rooms, args.rate)
        sem = asyncio.Semaphore(50)

        async def open_one(i: int) -> None:
            async with sem:
                tasks.append(
                    asyncio.create_task(
                        client(push_url(port, room_ids[i % len(room_ids)], i), totals, stop)
                    )
                )
                await asyncio.sleep(0.005)

        t_open = time.monotonic()
        await asyncio.gather(*(open_one(i) for i in range(args.connections)))
        deadline = t_open + 60
        while totals.open + totals.failed < args.connections and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.1)
        print(f"opened {totals.open}/{args.connections} in {time.monotonic() - t_open:.1f} s")
        await asyncio.sleep(2)  # settle
        totals.counting = True
        cpu0, t0 = cpu_seconds(proc.pid), time.monotonic()
        await asyncio.sleep(args.seconds)
        cpu1, t1 = cpu_seconds(proc.pid), time.monotonic()
        totals.counting = False
        held, elapsed = totals.open, t1 - t0
        lat = sorted(totals.latencies) or [0.0]
        expected = args.connections * args.rate
        print(
            f"connections held:      {held}/{args.connections} (failed {totals.failed}, dropped {totals.closed})"
        )
        print(
            f"messages/s delivered:  {totals.messages / elapsed:,.0f} (expected ~{expected:,.0f}; ratio {totals.messages / elapsed / expected:.2f})"
        )
        print(f"frames/s delivered:    {totals.frames / elapsed:,.0f}")
        print(
            f"latency im-now→recv:   p50 {lat[len(lat) // 2]:.0f} ms, p99 {lat[int(len(lat) * 0.99)]:.0f} ms"
        )
        print(f"simulator CPU:         {100 * (cpu1 - cpu0) / elapsed:.0f} % of one core")
        per_msg = 1e6 * (cpu1 - cpu0) / max(1, totals.messages)
        print(f"simulator CPU/message: {per_msg:.0f} µs per message delivered")
        print(f"simulator RSS:         {rss_mb(proc.pid):.0f} MB")
    finally:
        stop.set()
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        proc.terminate()
        try:
            await asyncio.wait_for(proc.wait(), 10)
        except TimeoutError:
            proc.kill()


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--connections", type=int, default=1000)
    p.add_argument("--rooms", type=int, default=200)
    p.add_argument("--rate", type=float, default=5.0, help="messages/s per room")
    p.add_argument("--seconds", type=float, default=30.0, help="hold time (max 600)")
    args = p.parse_args()
    args.connections = max(1, min(args.connections, 5000))
    args.rooms = max(1, min(args.rooms, args.connections))
    args.seconds = max(1.0, min(args.seconds, 600.0))
    asyncio.run(run(args))


if __name__ == "__main__":
    main()

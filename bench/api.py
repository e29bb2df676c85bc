# ruff: noqa: ASYNC220, ASYNC221, ASYNC240  (a benchmark driver: blocking setup calls are fine here)
"""API service benchmarks; prints figures (no assertions).

(a) ingest: messages/s appended into SQLite (WAL, synchronous=NORMAL: durable across a process
    crash; also FULL), 20 rooms appending concurrently in batches as the collectors do.
(b) chat endpoint: 50-message pages under concurrent keep-alive pollers vs a bare endpoint
    returning a fixed body of the same size on the same server (ratio; target ≥ 0.6). Two read
    patterns over a 100,000-message room: "live" pollers read pages at the live edge (cursors
    within the last 200 messages: what polling clients do; served from the store's tail cache)
    and "history" pollers read random old pages (catch-up reads: SQLite on the reader threads).
(c) end to end: 200 rooms × 10 messages/s from the simulator through the collector and the store
    to a long-polling client; p50/p99 latency from emit (Common.create_time) to delivery.

Usage: ``python bench/api.py [a] [b] [c] [--rooms N --rate R --seconds S]`` (default: all).
(c) runs the simulator and ``dylive serve`` as subprocesses (always terminated, killed after 5 s
if SIGTERM is ignored) and the pollers in this process; bounded by ``--seconds`` + 30 s.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson

from dylive.store import Record, RoomRecord, SQLiteStore

ROOM = 6922580638159719176


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
                    "short_id": 0,
                    "pay_grade_level": 12,
                    "fans_club_level": 3,
                    "fans_club_name": "熊粉团",
                    "avatar_url": "https://p3-dy-ipv6.byteimg.com/aweme/100x100/316e3000c72bee4420e2d.jpeg",
                },
            },
        }
    )
    return Record(room, msg_id, "WebcastChatMessage", 1611801897133, rendered, os.urandom(220))


# -- (a) ingest ----------------------------------------------------------------------------------
async def ingest(path: str, total: int, synchronous: str) -> float:
    rooms, batch = 20, 200
    per_room = total // rooms
    records = {
        r: [record(ROOM + r, 6922636275858098944 + i) for i in range(per_room)]
        for r in range(rooms)
    }
    store = SQLiteStore(path, synchronous=synchronous)
    async with store:

        async def room(r: int) -> None:
            rows = records[r]
            for i in range(0, len(rows), batch):
                await store.append(rows[i : i + batch])

        start = time.perf_counter()
        await asyncio.gather(*(room(r) for r in range(rooms)))
        elapsed = time.perf_counter() - start
        batches = store.batches
    rate = rooms * per_room / elapsed
    print(
        f"(a) ingest SQLite synchronous={synchronous}: {rooms * per_room} msgs in {elapsed:.2f} s"
        f" = {rate:,.0f} msgs/s ({batches} commits)"
    )
    return rate


# -- (b) chat endpoint vs bare -------------------------------------------------------------------
CHILD = """
import asyncio, sys
from starlette.responses import Response
from starlette.routing import Route
from dylive.serve.app import ServiceConfig, create_app
import uvicorn
db, port, body_path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
body = open(body_path, "rb").read()
async def bare(request):
    return Response(body, media_type="application/json")
app = create_app(ServiceConfig(db=db, upstream="http://127.0.0.1:9", ranklist=False))
app.router.routes.append(Route("/bare", bare))
uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
"""


async def http_get(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, path: str) -> bytes:
    writer.write(f"GET {path} HTTP/1.1\r\nHost: bench\r\n\r\n".encode())
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    return await reader.readexactly(length)


async def poller(port: int, paths: list[str], until: float, counts: list[int]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    i = 0
    while time.perf_counter() < until:
        await http_get(reader, writer, paths[i % len(paths)])
        i += 1
    counts.append(i)
    writer.close()


async def load(port: int, paths: list[list[str]], seconds: float) -> float:
    counts: list[int] = []
    until = time.perf_counter() + seconds
    await asyncio.gather(*(poller(port, p, until, counts) for p in paths))
    return sum(counts) / seconds


def chat_paths(token: str, pollers: int, live: bool) -> list[list[str]]:
    now = int(time.time() * 1000)
    return [
        [
            f"/douyin/liveroom/chat?token={token}&room_id={ROOM}&count=50&cursor={now}_0_"
            + (str(99_800 + (p * 7 + k) % 150) if live else str((p * 3001 + k * 50) % 99_900))
            + "_1"
            for k in range(400)
        ]
        for p in range(pollers)
    ]


async def chat_vs_bare(tmp: str, pollers: int = 32, seconds: float = 5.0) -> float:
    from dylive.serve import tokens

    db = str(Path(tmp) / "b.sqlite3")
    async with SQLiteStore(db) as store:
        rows = [record(ROOM, 6922636275858098944 + i) for i in range(100_000)]
        for i in range(0, len(rows), 5000):
            await store.append(rows[i : i + 5000])
        token = await tokens.create(store, "bench")
        await store.upsert_room(RoomRecord(ROOM, web_rid="615189692839", status=2))
    live, history = chat_paths(token, pollers, True), chat_paths(token, pollers, False)
    port = 18000 + os.getpid() % 1000
    body_path = str(Path(tmp) / "body.json")
    Path(body_path).write_bytes(b"{}")
    proc = subprocess.Popen([sys.executable, "-c", CHILD, db, str(port), body_path])
    try:
        # a sample page is the bare body: same size
        for _ in range(200):
            try:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                break
            except OSError:
                await asyncio.sleep(0.05)
        sample = await http_get(reader, writer, history[0][0])
        writer.close()
        Path(body_path).write_bytes(sample)
        proc.terminate()
        proc.wait()
        proc = subprocess.Popen([sys.executable, "-c", CHILD, db, str(port), body_path])
        await asyncio.sleep(1.5)
        await load(port, live, 1.0)  # warm up
        bare1 = await load(port, [["/bare"]] * pollers, seconds)
        chat = await load(port, live, seconds)
        old = await load(port, history, seconds)
        bare2 = await load(port, [["/bare"]] * pollers, seconds)
    finally:
        proc.terminate()
        proc.wait()
    bare = (bare1 + bare2) / 2  # measured before and after the chat runs
    print(
        f"(b) {pollers} keep-alive pollers, 50-message pages ({len(sample)} bytes):"
        f" bare {bare:,.0f} req/s ({bare1:,.0f} before, {bare2:,.0f} after);"
        f" live chat {chat:,.0f} req/s = {chat * 50:,.0f} msgs/s, ratio {chat / bare:.2f};"
        f" history chat {old:,.0f} req/s, ratio {old / bare:.2f}"
    )
    return chat / bare


# -- (c) end to end --------------------------------------------------------------------------------
def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def spawn(*args: str) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-m", "dylive", *args]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL after 5 s: never leaves a child behind."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def rss_mb(pid: int) -> tuple[float, float]:
    """(current, peak) resident set size of a process in MB."""
    fields = dict(
        line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
    )
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


async def wait_listening(port: int, proc: subprocess.Popen[bytes]) -> None:
    for _ in range(400):
        if proc.poll() is not None:
            raise RuntimeError(f"child exited with {proc.returncode}")
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return
        except OSError:
            await asyncio.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port}")


async def long_poll(port: int, path: str, until: float, out: list[tuple[int, float]]) -> None:
    """One room's poller: keep-alive, ``wait=`` long-poll, cursor echoed back."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    data = orjson.loads(await http_get(reader, writer, path + "&count=1"))["data"]
    while time.time() < until:
        body = await http_get(reader, writer, f"{path}&count=200&wait=2&cursor={data['cursor']}")
        now = time.time()
        data = orjson.loads(body)["data"]
        out.extend((m["msg_id"], now) for m in data["messages"])
    writer.close()


async def run_e2e(tmp: str, *, rooms: int, rate: float, seconds: float) -> None:
    """Sim (subprocess) with ``rooms`` rooms → ``dylive serve`` (subprocess, pinned collectors,
    SQLite) → one long-poller per room in this process."""
    import httpx

    db = str(Path(tmp) / "c.sqlite3")
    sim_port, api_port = free_port(), free_port()
    web_rids = [str(700_000_000_000 + i) for i in range(rooms)]
    out = subprocess.run(
        [sys.executable, "-m", "dylive", "token", "create", "--db", db, "--name", "e2e"],
        check=True,
        capture_output=True,
    )
    token = out.stdout.decode().split()[-1]
    sim = spawn("sim", "--port", str(sim_port), "--rate", str(rate), "--seed", "2")
    serve: subprocess.Popen[bytes] | None = None
    try:
        await wait_listening(sim_port, sim)
        sim_url = f"http://127.0.0.1:{sim_port}"
        async with httpx.AsyncClient(base_url=sim_url, timeout=30) as client:
            for web_rid in web_rids:
                resp = await client.post("/__sim/rooms", json={"web_rid": web_rid})
                resp.raise_for_status()
        pins = [arg for w in web_rids for arg in ("--room", w)]
        serve = spawn(
            "serve", "--db", db, "--upstream", sim_url, "--port", str(api_port),
            "--signing", "off", "--no-ranklist", *pins,
        )  # fmt: skip
        await wait_listening(api_port, serve)
        await asyncio.sleep(5.0)  # collectors connect
        delivered: list[tuple[int, float]] = []
        rss_start, _ = rss_mb(serve.pid)
        until = time.time() + seconds
        paths = [f"/douyin/liveroom/chat?token={token}&room_id={w}&methods=all" for w in web_rids]
        samples: list[float] = []

        async def sample_rss() -> None:
            while time.time() < until:
                samples.append(rss_mb(serve.pid)[0])
                await asyncio.sleep(min(10.0, seconds / 4))

        pollers = asyncio.gather(
            sample_rss(), *(long_poll(api_port, p, until, delivered) for p in paths)
        )
        await asyncio.wait_for(pollers, seconds + 30)
        rss, peak = rss_mb(serve.pid)
        sim_rss, _ = rss_mb(sim.pid)
        created: dict[int, int] = {}
        async with httpx.AsyncClient(base_url=sim_url, timeout=60) as client:
            for web_rid in web_rids:
                log = orjson.loads((await client.get(f"/__sim/rooms/{web_rid}/log")).content)
                created.update((e["msg_id"], e["created_at"]) for e in log)
    finally:
        if serve is not None:
            stop(serve)
        stop(sim)
    lat = sorted(t - created[m] / 1000 for m, t in delivered if m in created)
    if not lat:
        print(f"(c) {rooms} rooms: no messages delivered")
        return
    p50 = statistics.median(lat)
    p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))]
    print(
        f"(c) {rooms} rooms x {rate:g} msgs/s for {seconds:g} s: {len(lat)} messages delivered"
        f" ({len(lat) / seconds:,.0f}/s), emit→delivery p50 {p50 * 1000:.0f} ms,"
        f" p99 {p99 * 1000:.0f} ms; service RSS {rss_start:.0f} MB at start, {rss:.0f} MB at end"
        f" (peak {peak:.0f} MB),"
        f" simulator RSS {sim_rss:.0f} MB; service RSS samples (MB): "
        + ", ".join(f"{x:.0f}" for x in samples)
    )


async def main(args: argparse.Namespace) -> None:
    parts = args.parts or ["a", "b", "c"]
    with tempfile.TemporaryDirectory() as tmp:
        if "a" in parts:
            await ingest(str(Path(tmp) / "a1.sqlite3"), 200_000, "NORMAL")
            await ingest(str(Path(tmp) / "a2.sqlite3"), 100_000, "FULL")
        if "b" in parts:
            await chat_vs_bare(tmp)
        if "c" in parts:
            await run_e2e(tmp, rooms=args.rooms, rate=args.rate, seconds=args.seconds)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).parent))
    parser = argparse.ArgumentParser(description="API service benchmarks")
    parser.add_argument("parts", nargs="*", choices=["a", "b", "c"], help="default: all")
    parser.add_argument("--rooms", type=int, default=200, help="(c) rooms")
    parser.add_argument("--rate", type=float, default=10.0, help="(c) messages/s per room")
    parser.add_argument("--seconds", type=float, default=20.0, help="(c) measured seconds")
    asyncio.run(main(parser.parse_args()))

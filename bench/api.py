# ruff: noqa: ASYNC220, ASYNC240  (a benchmark driver: blocking setup calls are fine here)
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

Usage: ``python bench/api.py [a] [b] [c]`` (default: all).
"""

from __future__ import annotations

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
    async with SQLiteStore(path, synchronous=synchronous) as store:

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
async def run_e2e(tmp: str, *, rooms: int, rate: float, seconds: float) -> list[float]:
    """Sim with ``rooms`` rooms → pinned collectors → SQLite → one long-poller per room."""
    import sqlite3

    import httpx
    import uvicorn

    from dylive.serve import tokens
    from dylive.serve.app import ServiceConfig, create_app
    from dylive.sim import RoomSpec, SimConfig, SimServer
    from dylive.store.migrations import to_signed

    specs = [
        RoomSpec(
            web_rid=str(700_000_000_000 + i),
            anchor_id=80_000_000_000 + i,
            nickname=f"主播{i}",
            display_id=f"anchor{i}",
            sec_uid=f"MS4wLjABAAAA{i:040d}",
            title=f"room {i}",
            intro="bench",
            club_name="粉丝团",
        )
        for i in range(rooms)
    ]
    db = str(Path(tmp) / "c.sqlite3")
    delivered: list[tuple[int, float]] = []
    async with SimServer(SimConfig(seed=2, rate=rate, rooms=specs)) as sim:
        config = ServiceConfig(db=db, upstream=sim.base_url, signing="off", ranklist=False)
        config.pins = [s.web_rid for s in specs]
        app = create_app(config)
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="error"))
        task = asyncio.create_task(server.serve())
        while not server.started:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        base = f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
        token = await tokens.create(app.state.svc.store, "e2e")
        until = 0.0

        async def poll(web_rid: str, client: httpx.AsyncClient) -> None:
            params = {"token": token, "room_id": web_rid, "methods": "all", "wait": 5, "count": 200}
            while time.time() < until:
                resp = await client.get("/douyin/liveroom/chat", params=params)
                now = time.time()
                data = orjson.loads(resp.content)["data"]
                params["cursor"] = data["cursor"]
                delivered.extend((m["msg_id"], now) for m in data["messages"])

        limits = httpx.Limits(max_connections=rooms + 10)
        async with httpx.AsyncClient(base_url=base, timeout=30, limits=limits) as client:
            # skip the warm-up backlog: start every poller at the current end
            await asyncio.sleep(2.0)
            for s in specs:
                await client.get(
                    "/douyin/liveroom/chat",
                    params={"token": token, "room_id": s.web_rid, "count": 500, "methods": "all"},
                )
            until = time.time() + seconds
            await asyncio.gather(*(poll(s.web_rid, client) for s in specs))
        server.should_exit = True
        await task
    conn = sqlite3.connect(db)
    created = dict(conn.execute("SELECT msg_id, created_at FROM events"))
    conn.close()
    return [t - created[to_signed(m)] / 1000 for m, t in delivered if created.get(to_signed(m))]


async def end_to_end(tmp: str, rooms: int = 200, rate: float = 10.0, seconds: float = 20.0) -> None:
    lat = await run_e2e(tmp, rooms=rooms, rate=rate, seconds=seconds)
    if not lat:
        print("(c) no messages delivered")
        return
    lat.sort()
    p50 = statistics.median(lat)
    p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))]
    print(
        f"(c) {rooms} rooms x {rate:g} msgs/s for {seconds:g} s: {len(lat)} messages delivered,"
        f" emit→delivery p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms"
    )


async def main(parts: list[str]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        if "a" in parts:
            await ingest(str(Path(tmp) / "a1.sqlite3"), 200_000, "NORMAL")
            await ingest(str(Path(tmp) / "a2.sqlite3"), 100_000, "FULL")
        if "b" in parts:
            await chat_vs_bare(tmp)
        if "c" in parts:
            await end_to_end(tmp)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).parent))
    asyncio.run(main(sys.argv[1:] or ["a", "b", "c"]))

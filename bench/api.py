# ruff: noqa: ASYNC220, ASYNC221, ASYNC240  (a benchmark driver: blocking setup calls are fine here)
"""API service benchmarks; prints figures (no assertions).

(a) ingest: messages/s appended into SQLite (WAL, synchronous=NORMAL: durable across a process
    crash; also FULL), 20 rooms appending concurrently in batches as the collectors do.
(b) chat endpoint: 50-message pages under concurrent keep-alive pollers vs a bare endpoint
    returning a fixed body of the same size on the same server (ratio; target ≥ 0.6). The bare
    endpoint is a Starlette route (middleware stack and router, as every other endpoint); the
    chat endpoint is dispatched before them (``App.direct``), so the same bare body dispatched
    that way is measured too, before and after the rounds, as a stricter reference. Two read
    patterns over a 100,000-message room: "live" pollers read pages at the live edge (cursors
    within the last 200 messages: what polling clients do; served from the store's tail cache)
    and "history" pollers read random old pages (catch-up reads: SQLite on the reader threads).
    On PostgreSQL (``--postgres``) the CPU of the server processes connected to the bench
    database (the service's readers, writer and listener) is printed per request too.
(c) end to end: 200 rooms × 10 messages/s from the simulator through the collector and the store
    to a long-polling client; p50/p99 latency from emit (Common.create_time) to delivery, CPU
    of the service, the simulator and the pollers (share of one core over the measured window),
    service RSS, and µs of service CPU per delivered message (service CPU seconds over the window ÷
    messages delivered in it: a figure that does not depend on how busy the machine is; with
    ``--profile`` also split by stage — collector, decode, ingest, analytics, HTTP, fan-out —
    from the py-spy samples, see ``profiling.stages``). ``--rooms 50,100,200,500,1000`` runs one
    step per count and prints a table. The window: every poller first takes the live edge's
    cursor (``count=1``), then the window of ``--seconds`` opens; after it each poller goes on
    until it received its room's last message emitted in the window, for at most ``DRAIN`` (5) s.
    "Delivered in the window" is the share of the messages emitted in the window that reached
    their poller by then; latencies and msgs/s are of those messages. The harness stays cheap
    at 1,000 rooms: it waits for the pinned rooms on ``/healthz`` (a count) once a second, and
    takes every emit time in one request (``GET /__sim/created``); it prints its own phases.
    With ``--postgres ADMIN_URL`` the store is a fresh PostgreSQL database per step and
    ``--nodes 1,2`` fleet nodes (``dylive serve --node-id``) collect the rooms, pinned through
    the first node's API once all listen; pollers are spread over the nodes; each node count
    climbs the ``--rooms`` steps (side by side per step) until a step does not hold (p99 < 1 s,
    ≥ 99 % delivered, no poller stalled), and the highest rate held and the ratio are printed.

Usage: ``python bench/api.py [a] [b] [c] [--rooms N[,N…] --rate R --seconds S]
[--postgres ADMIN_URL [--nodes K[,K…]]] [--h11]
[--metering both|on|off] [--profile DIR] [--sim-arg=--refuse-handshake]``
(``--metering both``, the default: (b) with usage
metering off, then on, and the change of the chat ratios and CPU per request) (``--h11``: (b) again on asyncio + h11 after the default uvloop + httptools)
(``--server uvicorn``: (b)'s service on uvicorn's own protocols and defaults, as measured before
the eighth session; the default ``edge`` serves it as ``dylive serve`` does: the edge
protocols of ``server_config``, whose direct routes answer in one write)
(default: all). ``--profile DIR`` attaches py-spy (dev extra) to the service while it is measured
and prints where the samples were (self and inclusive shares per function).
(c) runs the simulator and ``dylive serve`` as subprocesses (always terminated, killed after 5 s
if SIGTERM is ignored) and the pollers in this process; every phase of a step is bounded (rooms
started: 60 s + 0.5 s a room, then measured anyway; pollers primed: 120 s; the window:
``--seconds`` + 20 s, a poller not answered by then counts as stalled).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import orjson
from profiling import STAGE_ORDER, attach, detach, stages, summary

from dylive.serve import runtime
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
import asyncio, os, sys
from starlette.responses import Response
from starlette.routing import Route
from dylive.serve import runtime
from dylive.app import ServiceConfig
from dylive.serve.app import create_app
import uvicorn
db, port, body_path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
options = {"metering": sys.argv[4] == "on"} if len(sys.argv) > 4 else {}
body = open(body_path, "rb").read()
async def bare(request):
    return Response(body, media_type="application/json")
app = create_app(
    ServiceConfig(db=db, upstream="http://127.0.0.1:9", ranklist=False, **options)
)
app.router.routes.append(Route("/bare", bare))
if hasattr(app, "direct"):  # dispatched as the chat endpoint is (a tree before App: a route)
    app.direct["/bare-direct"] = bare
else:
    app.router.routes.insert(0, Route("/bare-direct", bare))
if os.environ.get("DYLIVE_BENCH_SERVER", "edge") == "edge":  # as ``dylive serve`` serves
    from dylive.serve.limits import server_config
    config = server_config(app, "127.0.0.1", port, http=runtime.http_name())
else:  # uvicorn's own protocols and defaults (the figures of sessions before the eighth)
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", access_log=False,
        http=runtime.http_name(),
    )
runtime.run(uvicorn.Server(config).serve())
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


async def chat_vs_bare(
    tmp: str,
    pollers: int = 32,
    seconds: float = 3.0,
    rounds: int = 3,
    profile: str = "",
    postgres: str = "",
    metering: str = "",
) -> tuple[float, float, dict[str, float]]:
    """Rounds of bare / live / history / bare ...: each chat ratio is taken against the mean of
    the bare figures measured just before and just after it (machine noise hits both). The
    service's CPU time per request is printed too: unlike rates, it does not depend on how
    much of a core the service got on a loaded machine.

    With ``postgres`` (an admin URL) the store is a fresh PostgreSQL database (dropped after),
    served by a one-node fleet. ``metering``: ``on`` / ``off`` (usage metering of the service;
    "" = its default). Returns the live and history median ratios and the service's median CPU
    time per request (us) by phase."""
    if not postgres:
        return await _chat_vs_bare(
            str(Path(tmp) / "b.sqlite3"), tmp, pollers, seconds, rounds, profile, metering
        )
    db = pg_database(postgres)
    try:
        return await _chat_vs_bare(db, tmp, pollers, seconds, rounds, profile, metering)
    finally:
        drop_pg_database(postgres, db)


def pg_database(admin_url: str) -> str:
    import uuid

    import psycopg

    name = "dylive_bench_b_" + uuid.uuid4().hex[:10]
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    return admin_url.rsplit("/", 1)[0] + "/" + name


def pg_backends_cpu(url: str) -> dict[int, float]:
    """CPU seconds used so far by each server process connected to the database of ``url``
    (this query's own excepted)."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        pids = conn.execute(
            "SELECT pid FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchall()
    used: dict[int, float] = {}
    for (pid,) in pids:
        with contextlib.suppress(OSError):  # gone meanwhile
            used[pid] = cpu_seconds(pid)
    return used


def drop_pg_database(admin_url: str, url: str) -> None:
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {url.rsplit('/', 1)[1]} WITH (FORCE)")


async def _chat_vs_bare(
    db: str, tmp: str, pollers: int, seconds: float, rounds: int, profile: str, metering: str
) -> tuple[float, float, dict[str, float]]:
    from dylive.serve import tokens
    from dylive.store import open_store

    async with open_store(db) as store:
        rows = [record(ROOM, 6922636275858098944 + i) for i in range(100_000)]
        for i in range(0, len(rows), 5000):
            await store.append(rows[i : i + 5000])
        token = await tokens.create(store, "bench")
        await store.upsert_room(RoomRecord(ROOM, web_rid="615189692839", status=2))
    live, history = chat_paths(token, pollers, True), chat_paths(token, pollers, False)
    port = free_port()
    body_path = str(Path(tmp) / "body.json")
    Path(body_path).write_bytes(b"{}")
    child = [
        sys.executable,
        "-c",
        CHILD,
        db,
        str(port),
        body_path,
        *([metering] if metering else []),
    ]
    proc = subprocess.Popen(child)
    try:
        # a sample page is the bare body: same size
        await wait_listening(port, proc)
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        sample = await http_get(reader, writer, history[0][0])
        writer.close()
        Path(body_path).write_bytes(sample)
        stop(proc)
        proc = subprocess.Popen(child)
        await wait_listening(port, proc)
        await load(port, live, 1.0)  # warm up
        cpu: dict[str, list[float]] = {}  # the service's CPU time per request (us), by phase
        pg_cpu: dict[str, list[float]] = {}  # PostgreSQL: its backends' CPU per request (us)
        postgres = db.startswith("postgresql://")

        async def measured(name: str, paths: list[list[str]]) -> float:
            backends = pg_backends_cpu(db) if postgres else {}
            used = cpu_seconds(proc.pid)
            rate = await load(port, paths, seconds)
            used = cpu_seconds(proc.pid) - used
            requests = max(1.0, rate * seconds)
            cpu.setdefault(name, []).append(used / requests * 1e6)
            if postgres:
                after = pg_backends_cpu(db)
                spent = sum(t - backends.get(pid, 0.0) for pid, t in after.items())
                pg_cpu.setdefault(name, []).append(spent / requests * 1e6)
            return rate

        direct = [await measured("bare direct", [["/bare-direct"]] * pollers)]
        bare = [await measured("bare", [["/bare"]] * pollers)]
        chat: dict[str, list[float]] = {"live": [], "history": []}
        for r in range(rounds):
            for name, paths in (("live", live), ("history", history)):
                spy = attach(proc.pid, f"{profile}/b-{name}.txt") if profile and not r else None
                chat[name].append(await measured(name, paths))
                detach(spy)
            bare.append(await measured("bare", [["/bare"]] * pollers))
        direct.append(await measured("bare direct", [["/bare-direct"]] * pollers))
    finally:
        stop(proc)
    ratios = {
        name: [x / ((bare[r] + bare[r + 1]) / 2) for r, x in enumerate(xs)]
        for name, xs in chat.items()
    }

    print(
        f"(b) {'PostgreSQL' if db.startswith('postgresql://') else 'SQLite'},"
        f"{' metering ' + metering + ',' if metering else ''}"
        f" {pollers} keep-alive pollers, 50-message pages ({len(sample)} bytes), {rounds} rounds"
        f" ({runtime.loop_name()} loop, {runtime.http_name()} parser,"
        f" {os.environ.get('DYLIVE_BENCH_SERVER', 'edge')} server)"
        f" of {seconds:g} s: bare req/s {', '.join(f'{x:,.0f}' for x in bare)}"
    )
    for name, xs in chat.items():
        rs = ratios[name]
        print(
            f"    {name:7} chat req/s {', '.join(f'{x:,.0f}' for x in xs)}; ratio per round "
            f"{', '.join(f'{x:.2f}' for x in rs)}; median {statistics.median(rs):.2f} (target >= 0.6)"
        )
    ref = statistics.mean(direct)
    print(
        f"    bare dispatched as chat is (before, after the rounds): req/s"
        f" {', '.join(f'{x:,.0f}' for x in direct)}; median chat ratio to their mean:"
        + "".join(f" {n} {statistics.median(xs) / ref:.2f}" for n, xs in chat.items())
    )
    # CPU time per request does not depend on how much of a core the service got (load)
    med = {name: statistics.median(xs) for name, xs in cpu.items()}
    print(
        "    service CPU per request (median us): "
        + ", ".join(f"{name} {us:.0f}" for name, us in med.items())
        + "; bare / chat CPU:"
        + "".join(f" {n} {med['bare'] / med[n]:.2f}" for n in chat)
        + "; bare direct / chat CPU:"
        + "".join(f" {n} {med['bare direct'] / med[n]:.2f}" for n in chat)
    )
    if pg_cpu:
        pg_med = {name: statistics.median(xs) for name, xs in pg_cpu.items()}
        print(
            "    PostgreSQL backends' CPU per request (median us, the service's connections): "
            + ", ".join(f"{name} {us:.0f}" for name, us in pg_med.items())
        )
    if profile:
        for name in chat:
            path = Path(profile) / f"b-{name}.txt"
            if path.exists():
                print(summary(path, title=f"(b) {name}"))
    return statistics.median(ratios["live"]), statistics.median(ratios["history"]), med


# -- (c) end to end --------------------------------------------------------------------------------
def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


#: (c) more options of the simulator (``--sim-arg``), e.g. ``--refuse-handshake``
SIM_ARGS: list[str] = []


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


async def wait_listening(port: int, proc: subprocess.Popen[bytes], within: float = 20.0) -> None:
    for _ in range(int(within / 0.05)):
        if proc.poll() is not None:
            raise RuntimeError(f"child exited with {proc.returncode}")
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return
        except OSError:
            await asyncio.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port}")


STALLED: list[str] = []  # pollers whose last request had not been answered 20 s after the end
DRAIN = 5.0  # s after the window a poller may go on to receive its room's last window message


@dataclass
class Poll:
    """One room's long-poller and what it received."""

    port: int
    web_rid: str
    path: str
    cursor: str = ""  # the live edge when primed (before the window), then echoed back
    got: list[tuple[int, float]] = field(default_factory=list)  # (msg_id, receipt time)
    ids: set[int] = field(default_factory=set)
    conn: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
    reconnects: int = 0  # connections the service closed, opened again
    errors: int = 0  # answers without a cursor (error envelopes)
    requests: int = 0  # long-poll requests answered in the window

    async def prime(self) -> None:
        """Connect and take the cursor of the live edge (``count=1``): done for every room
        before the window opens, so every message emitted in the window comes after it."""
        self.conn = await asyncio.open_connection("127.0.0.1", self.port)
        while True:  # a room still starting answers without a cursor: ask again
            try:
                body = await http_get(*self.conn, self.path + "&count=1")
            except (asyncio.IncompleteReadError, ConnectionError):
                self.conn[1].close()
                self.reconnects += 1
                self.conn = await asyncio.open_connection("127.0.0.1", self.port)
                continue
            data = orjson.loads(body).get("data") or {}
            if data.get("cursor"):
                self.cursor = data["cursor"]
                return
            await asyncio.sleep(1.0)


@dataclass
class Window:
    """The measured window and its drain: after ``until`` each poller goes on until it received
    its room's last message emitted before ``until`` (``last``: known shortly after ``until``,
    from the simulator) or ``DRAIN`` s have passed — the window's last messages are counted
    when they arrive, not cut off by the end of the window."""

    until: float
    last: dict[str, int] | None = None  # web_rid → msg_id of its last message in the window

    def more(self, poll: Poll, now: float) -> bool:
        if now < self.until:
            return True
        if now >= self.until + DRAIN:
            return False
        if self.last is None:
            return True  # not known yet
        target = self.last.get(poll.web_rid)
        return target is not None and target not in poll.ids


async def long_poll(poll: Poll, window: Window) -> None:
    """One room's poller (primed): keep-alive, ``wait=`` long-poll, cursor echoed back. A
    connection the service closed (its keep-alive timeout while the other pollers were primed)
    is opened again; an answer without a cursor (an error envelope) is asked again."""
    if poll.conn is None or not poll.cursor:
        STALLED.append(poll.path)  # not primed
        if poll.conn is not None:
            poll.conn[1].close()
        return
    reader, writer = poll.conn
    try:
        # an overloaded service answers late: the poller gives up 20 s after the end (counted)
        async with asyncio.timeout(max(0.0, window.until - time.time()) + 20.0):
            while window.more(poll, time.time()):
                try:
                    body = await http_get(
                        reader, writer, f"{poll.path}&count=200&wait=2&cursor={poll.cursor}"
                    )
                except (asyncio.IncompleteReadError, ConnectionError):
                    writer.close()
                    poll.reconnects += 1
                    reader, writer = await asyncio.open_connection("127.0.0.1", poll.port)
                    continue
                now = time.time()
                poll.requests += 1
                data = orjson.loads(body).get("data") or {}
                if not data.get("cursor"):
                    poll.errors += 1
                    await asyncio.sleep(0.5)
                    continue
                poll.cursor = data["cursor"]
                ids = [m["msg_id"] for m in data["messages"]]
                poll.ids.update(ids)
                poll.got.extend((m, now) for m in ids)
    except TimeoutError:
        STALLED.append(poll.path)
    finally:
        writer.close()


async def last_in_window(sim_url: str, web_rids: list[str], until: float) -> dict[str, int]:
    """web_rid → msg_id of the last message each room emitted before ``until`` (those of the
    last 5 s: a live room emits its statistics every 5 s; a room silent that long has no entry).
    Asked during the drain, so the simulator's answer is kept small: the last 30 s of 500 rooms
    (150,000 pairs of JSON) stalled its loop while the window's last frames were due."""
    at = int(until * 1000)
    by_room = await created_between(sim_url, web_rids, at - 5_000, at)
    return {w: pairs[-1][0] for w, pairs in by_room.items() if pairs}


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def thread_ticks(pid: int | str = "self") -> dict[int, int]:
    """utime + stime (clock ticks) of every thread of a process (default: this one)."""
    out = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        with contextlib.suppress(FileNotFoundError):  # a thread that just ended
            stat = Path(f"/proc/{pid}/task/{tid}/stat").read_text()
            fields = stat[stat.rindex(")") + 2 :].split()
            out[int(tid)] = int(fields[11]) + int(fields[12])
    return out


def busiest_thread(before: dict[int, int], after: dict[int, int], main: int) -> float:
    """CPU seconds of the busiest thread other than ``main`` between two ``thread_ticks``: in
    the service, the SQLite writer thread (the reader threads and the rest do far less)."""
    ticks = max((t - before.get(tid, 0) for tid, t in after.items() if tid != main), default=0)
    return ticks / os.sysconf("SC_CLK_TCK")


async def make_sim_rooms(sim_url: str, web_rids: list[str]) -> None:
    """The rooms in the simulator, 16 requests at a time."""
    import httpx

    slots = asyncio.Semaphore(16)
    async with httpx.AsyncClient(base_url=sim_url, timeout=30) as client:

        async def one(web_rid: str) -> None:
            async with slots:
                resp = await client.post("/__sim/rooms", json={"web_rid": web_rid})
                resp.raise_for_status()

        await asyncio.gather(*(one(w) for w in web_rids))


async def pin_via_api(port: int, token: str, web_rids: list[str]) -> None:
    """Pin every room through one node's API, 8 at a time (fleet: every node is up by then, so
    placement spreads them at once instead of handing them off one a second)."""
    import httpx

    slots = asyncio.Semaphore(8)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:

        async def one(web_rid: str) -> None:
            async with slots:
                resp = await client.post(f"/api/rooms/{web_rid}/pin", params={"token": token})
                resp.raise_for_status()

        await asyncio.gather(*(one(w) for w in web_rids))


async def wait_collecting(ports: list[int], token: str, rooms: int, within: float) -> int:
    """Wait until the nodes together run ``rooms`` rooms, or none is left starting, or ``within``
    s passed; the count.

    Asks ``/healthz`` (its ``rooms``: the rooms this node runs) once a second: a store probe
    and a count, where ``/api/rooms`` builds the status of every room (~70 ms of the service's
    CPU a call at 500 rooms). Only when the count has not grown for 10 s, ``/api/rooms`` once
    (then again at most every 10 s): a pin that failed is watched or dropped, never "starting",
    and nothing more is coming."""
    import httpx

    deadline = time.time() + within
    running, grew, checked = 0, time.time(), time.time()
    async with httpx.AsyncClient(timeout=30) as client:
        while True:
            count = 0
            for port in ports:
                with contextlib.suppress(httpx.HTTPError, KeyError, ValueError):
                    resp = await client.get(f"http://127.0.0.1:{port}/healthz")
                    count += int(orjson.loads(resp.content)["data"]["rooms"])
            now = time.time()
            if count > running:
                running, grew = count, now
            if running >= rooms or now >= deadline:
                return running
            if now - max(grew, checked) >= 10:
                checked = now
                with contextlib.suppress(httpx.HTTPError, KeyError, ValueError):
                    resp = await client.get(f"http://127.0.0.1:{ports[0]}/api/rooms?token={token}")
                    states = orjson.loads(resp.content)["data"]["rooms"]
                    # "starting": a pin being resolved; "": a fleet row nobody collects yet
                    if not any(r.get("state", "") in ("starting", "") for r in states):
                        return running
            await asyncio.sleep(1.0)


async def transports_of(ports: list[int], token: str) -> dict[str, int]:
    """Collectors by transport, from ``/api/rooms`` of each node (in a fleet a node details only
    the rooms it collects); ``{"unknown": 1}`` when a node does not answer within 30 s."""
    import httpx

    kinds: dict[int, str] = {}
    async with httpx.AsyncClient(timeout=30) as client:
        for port in ports:
            try:
                resp = await client.get(f"http://127.0.0.1:{port}/api/rooms?token={token}")
                listed = orjson.loads(resp.content)["data"]["rooms"]
            except (httpx.HTTPError, KeyError, ValueError):
                return {"unknown": 1}
            for room in listed:
                kind = (room.get("transport") or {}).get("transport")
                if kind or room.get("room_id", 0) not in kinds:
                    kinds[room.get("room_id", 0)] = kind or "none"
    out: dict[str, int] = {}
    for kind in kinds.values():
        out[kind] = out.get(kind, 0) + 1
    return out


async def created_between(
    sim_url: str, web_rids: list[str], from_ms: int, to_ms: int
) -> dict[str, list[tuple[int, int]]]:
    """web_rid → [(msg_id, created_at ms), …] of what the rooms ``web_rids`` emitted in the
    window (not the simulator's own demo rooms, which nobody polls): one request
    (``GET /__sim/created``), not one full log per room."""
    import httpx

    async with httpx.AsyncClient(base_url=sim_url, timeout=120) as client:
        resp = await client.get("/__sim/created", params={"from_ms": from_ms, "to_ms": to_ms})
        resp.raise_for_status()
    by_room = orjson.loads(resp.content)
    return {w: [(m, c) for m, c in by_room.get(w, ())] for w in web_rids}


async def run_e2e(
    tmp: str,
    *,
    rooms: int,
    rate: float,
    seconds: float,
    profile: str = "",
    postgres: str = "",
    nodes: int = 1,
    window_file: str = "",
) -> dict[str, float]:
    """Sim (subprocess) with ``rooms`` rooms → ``dylive serve`` (subprocess, pinned collectors,
    SQLite) → one long-poller per room in this process. Returns the step's figures.

    ``postgres`` (an admin URL): the store is a fresh PostgreSQL database (dropped after) and
    ``nodes`` fleet nodes collect the rooms (pinned through the first node's API once every node
    listens, placed by the fleet); the pollers are spread over the nodes round-robin, CPU and
    RSS are the nodes' sums (``--profile``: the first node)."""
    db = pg_database(postgres) if postgres else str(Path(tmp) / f"c{rooms}.sqlite3")
    try:
        fig = await _run_e2e(db, rooms, rate, seconds, profile, nodes, window_file)
    finally:
        if postgres:
            drop_pg_database(postgres, db)
    if not postgres and Path(db).exists():  # what the writer wrote: the sizes of its rows
        with contextlib.closing(sqlite3.connect(db)) as conn:
            count, rendered, raw = conn.execute(
                "SELECT count(*), avg(length(rendered)), avg(length(raw)) FROM events"
            ).fetchone()
            # the rows stored while the CPU was measured: the writer's CPU per row it stored
            # (per delivered message above: the drain after the window stores rows no poller
            # counts, and a room's non-delivered rows would count too)
            window = conn.execute(
                "SELECT count(*) FROM events WHERE stored_at >= ? AND stored_at < ?",
                (int(fig.get("from_ms", 0)), int(fig.get("to_ms", 0))),
            ).fetchone()[0]
            sessions = conn.execute(
                "SELECT count(*), avg(length(state)), avg(length(report)) FROM sessions"
            ).fetchone()
            parts = conn.execute("SELECT count(*), avg(length(part)) FROM session_parts").fetchone()
        print(f"    sessions: {sessions[0]}, on average {sessions[1] or 0:.0f} bytes of state and"
              f" {sessions[2] or 0:.0f} of report; {parts[0]:,} checkpoint parts of"
              f" {parts[1] or 0:.0f} bytes")  # fmt: skip
        print(f"    stored: {count:,} rows, on average {rendered or 0:.0f} bytes rendered,"
              f" {raw or 0:.0f} raw; {window:,} while the CPU was measured, the writer thread"
              f" {1e6 * fig.get('writer_s', 0) / max(1, window):.1f} µs a stored row")  # fmt: skip
    return fig


async def _run_e2e(
    db: str,
    rooms: int,
    rate: float,
    seconds: float,
    profile: str,
    nodes: int,
    window_file: str = "",
) -> dict[str, float]:
    STALLED.clear()
    fleet = db.startswith("postgresql://")
    sim_port = free_port()
    ports = [free_port() for _ in range(nodes)]
    web_rids = [str(700_000_000_000 + i) for i in range(rooms)]
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "dylive",
            "token",
            "create",
            "--db",
            db,
            "--name",
            "e2e",
            "--room-limit",
            "0",
        ],  # one poller for every room: no room limit
        check=True,
        capture_output=True,
    )
    token = out.stdout.decode().split()[-1]
    sim = spawn("sim", "--port", str(sim_port), "--rate", str(rate), "--seed", "2", *SIM_ARGS)
    served: list[subprocess.Popen[bytes]] = []
    spy = None
    harness: dict[str, float] = {}  # this process's own phases (s of wall time)
    try:
        await wait_listening(sim_port, sim)
        sim_url = f"http://127.0.0.1:{sim_port}"
        t = time.time()
        await make_sim_rooms(sim_url, web_rids)
        harness["sim rooms"] = time.time() - t
        base = ["--db", db, "--upstream", sim_url, "--signing", "off", "--no-ranklist"]
        started = time.time()
        if fleet:
            cap = str(max(500, rooms))  # one node may have to take every room
            for i, port in enumerate(ports):
                served.append(
                    spawn("serve", *base, "--port", str(port), "--node-id", f"n{i + 1}",
                          "--max-rooms", cap)
                )  # fmt: skip
        else:
            pins = [arg for w in web_rids for arg in ("--room", w)]
            served.append(spawn("serve", *base, "--port", str(ports[0]), *pins))
        for port, proc in zip(ports, served, strict=True):
            await wait_listening(port, proc, within=60)
        listening = time.time() - started
        if fleet:
            await pin_via_api(ports[0], token, web_rids)
        # the pinned rooms are resolved and started in the background: measure once all collect
        running = await wait_collecting(ports, token, rooms, within=60 + 0.5 * rooms)
        pinned = time.time() - started
        harness["rooms started"] = pinned
        if running < rooms:
            print(f"(c) {rooms} rooms: only {running} running {pinned:.0f} s after start")
        await asyncio.sleep(5.0)  # collectors connect
        polls = [
            Poll(
                ports[i % nodes], w, f"/douyin/liveroom/chat?token={token}&room_id={w}&methods=all"
            )
            for i, w in enumerate(web_rids)
        ]
        t = time.time()
        # a room the service cannot answer within 120 s stays unprimed: its poller counts as
        # stalled, its room's messages as emitted and not delivered
        priming = [asyncio.ensure_future(poll.prime()) for poll in polls]
        _, late = await asyncio.wait(priming, timeout=120)
        for task in late:
            task.cancel()
        await asyncio.gather(*priming, return_exceptions=True)
        harness["pollers primed"] = time.time() - t
        rss_start = sum(rss_mb(p.pid)[0] for p in served)
        until = time.time() + seconds
        window = Window(until)
        samples: list[float] = []

        async def sample_rss() -> None:
            while time.time() < until:
                samples.append(sum(rss_mb(p.pid)[0] for p in served))
                await asyncio.sleep(min(10.0, seconds / 4))

        async def learn_last() -> None:
            await asyncio.sleep(max(0.0, until - time.time()) + 0.05)
            window.last = await last_in_window(sim_url, web_rids, until)

        if profile:
            spy = attach(served[0].pid, f"{profile}/c-{rooms}.txt")
        per_node0 = [cpu_seconds(p.pid) for p in served]
        threads0 = thread_ticks(served[0].pid)
        cpu0 = (sum(per_node0), cpu_seconds(sim.pid), time.process_time())
        wall0 = time.time()
        load0 = os.getloadavg()[0]
        if window_file:  # for a tracer attached from outside (bench/syscalls.py)
            Path(window_file).write_text(f"{served[0].pid} {wall0} {until} {db}\n")
        pollers = asyncio.gather(
            sample_rss(), learn_last(), *(long_poll(poll, window) for poll in polls)
        )
        await pollers  # each poller stops by itself at the latest 20 s after the end
        wall = time.time() - wall0
        per_node = [cpu_seconds(p.pid) - c for p, c in zip(served, per_node0, strict=True)]
        writer_cpu = busiest_thread(threads0, thread_ticks(served[0].pid), served[0].pid)
        cpu = (sum(cpu_seconds(p.pid) for p in served), cpu_seconds(sim.pid), time.process_time())
        detach(spy)
        memory = [rss_mb(p.pid) for p in served]
        rss, peak = sum(m[0] for m in memory), sum(m[1] for m in memory)
        sim_rss, _ = rss_mb(sim.pid)
        t = time.time()
        transports = await transports_of(ports, token)
        harness["transports (/api/rooms)"] = time.time() - t
        t = time.time()
        created = await created_between(sim_url, web_rids, int(wall0 * 1000), int(until * 1000))
        harness["post-processing"] = time.time() - t
    finally:
        detach(spy)
        for proc in served:
            stop(proc)
        stop(sim)
    t = time.time()
    # of the messages emitted in the window (every poller's cursor was taken before it): the
    # share delivered (by the end of the drain) and the latencies, emit → receipt
    lat: list[float] = []
    emitted = 0
    for poll in polls:
        made = {m: c / 1000 for m, c in created[poll.web_rid]}
        emitted += len(made)
        lat.extend(at - made[m] for m, at in poll.got if m in made)
    lat.sort()
    delivered = sum(len(poll.got) for poll in polls)
    share = [100 * (b - a) / wall for a, b in zip(cpu0, cpu, strict=True)]
    if not lat:
        print(
            f"(c) {rooms} rooms: none of the window's {emitted} messages delivered ({delivered}"
            f" messages in all; {len(STALLED)} pollers stalled, {sum(not p.cursor for p in polls)}"
            f" of them never primed); CPU (% of one core) service {share[0]:.0f}, simulator"
            f" {share[1]:.0f}; service RSS {rss:.0f} MB at end (peak {peak:.0f} MB); harness (wall s): "
            + ", ".join(f"{k} {v:.1f}" for k, v in harness.items())
            + f"; load average {load0:.2f} → {os.getloadavg()[0]:.2f}"
        )
        return {"rooms": rooms, "nodes": nodes, "running": running}
    # µs of service CPU per delivered message: CPU seconds over the window ÷ messages delivered in
    # it (the window ends when the last poller returns) — not skewed by how busy the machine is
    per_msg = 1e6 * (cpu[0] - cpu0[0]) / max(1, delivered)
    # the rig's own CPU: the simulator's per message it emitted over the measured wall time (the
    # window's emission rate × wall: it emits on through the drain), the pollers' (this process)
    # per message they received
    sim_us = 1e6 * (cpu[1] - cpu0[1]) / max(1.0, emitted / seconds * wall)
    pollers_us = 1e6 * (cpu[2] - cpu0[2]) / max(1, delivered)
    requests = sum(poll.requests for poll in polls)
    pollers_req_us = 1e6 * (cpu[2] - cpu0[2]) / max(1, requests)
    harness["post-processing"] += time.time() - t
    fig = {
        "rooms": rooms,
        "nodes": nodes,
        "msgs": len(lat) / seconds,  # the window's messages delivered, per second
        "service_cpu": share[0],
        "sim_cpu": share[1],
        "client_cpu": share[2],
        "sim_us": sim_us,
        "pollers_us": pollers_us,
        "pollers_req_us": pollers_req_us,
        "msgs_per_request": delivered / max(1, requests),
        "rss_start": rss_start,
        "rss": rss,
        "peak": peak,
        "p50": statistics.median(lat) * 1000,
        "p99": lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000,
        "kept_up": 100 * len(lat) / max(1, emitted),
        "stalled": len(STALLED),
        "running": running,
        "listening": listening,
        "pinned": pinned,
        "us_per_msg": per_msg,
        "writer_us": 1e6 * writer_cpu / max(1, delivered),
        "writer_s": writer_cpu,
        "from_ms": wall0 * 1000,
        "to_ms": (wall0 + wall) * 1000,
        "load_start": load0,
        "load": os.getloadavg()[0],
    }
    store = f"PostgreSQL, {nodes} fleet node{'s' if nodes > 1 else ''}" if fleet else "SQLite"
    print(
        f"(c) {rooms} rooms x {rate:g} msgs/s for {seconds:g} s ({store}):"
        f" {len(lat)} of the window's messages delivered ({delivered} in all)"
        f" ({fig['msgs']:,.0f}/s; {fig['kept_up']:.1f} % of those emitted in the window,"
        f" {len(STALLED)} pollers stalled; port open {listening:.1f} s after start, every pinned room started"
        f" {pinned:.1f} s after start),"
        f" emit→delivery p50 {fig['p50']:.0f} ms,"
        f" p99 {fig['p99']:.0f} ms; service CPU {per_msg:.0f} µs per delivered message"
        f" (the busiest thread besides the loop's — SQLite: the writer — {fig['writer_us']:.0f});"
        f" CPU (% of one core) service {share[0]:.0f},"
        f" simulator {share[1]:.0f}, pollers {share[2]:.0f} (simulator {sim_us:.0f} µs per emitted"
        f" message, pollers {pollers_us:.0f} µs per received message, {pollers_req_us:.0f} per"
        f" request, {delivered / max(1, requests):.1f} messages a request); service RSS {rss_start:.0f} MB at"
        f" start, {rss:.0f} MB at end (peak {peak:.0f} MB, {peak / rooms:.2f} MB/room),"
        f" simulator RSS {sim_rss:.0f} MB; collectors by transport {transports};"
        " service RSS samples (MB): " + ", ".join(f"{x:.0f}" for x in samples)
    )
    if nodes > 1:
        print(
            "    per node: CPU (% of one core) "
            + ", ".join(f"{100 * c / wall:.0f}" for c in per_node)
            + "; RSS end (MB) "
            + ", ".join(f"{m[0]:.0f}" for m in memory)
        )
    print(
        "    harness (wall s): "
        + ", ".join(f"{k} {v:.1f}" for k, v in harness.items())
        + f"; poller reconnects {sum(p.reconnects for p in polls)},"
        f" answers without a cursor {sum(p.errors for p in polls)}"
        + f"; load average {load0:.2f} → {fig['load']:.2f}"
        + time.strftime(" (window opened %Y-%m-%d %H:%M:%S UTC)", time.gmtime(wall0))
    )
    if profile and Path(f"{profile}/c-{rooms}.txt").exists():
        print(summary(f"{profile}/c-{rooms}.txt", title=f"(c) {rooms} rooms"))
        split = stages(f"{profile}/c-{rooms}.txt")
        for stage, part in split.items():
            fig[f"stage:{stage}"] = part * per_msg
        print(
            f"(c) {rooms} rooms: service CPU per delivered message by stage (share of the profile's"
            " samples × the measured µs/message): "
            + ", ".join(f"{s} {p * per_msg:.0f} µs ({100 * p:.0f} %)" for s, p in split.items())
        )
    return fig


def rooms_cell(f: dict[str, float]) -> str:
    """The step's rooms, and how many ran when the window opened if not all had started."""
    running = f.get("running", f["rooms"])
    return f"{f['rooms']:.0f}" + (f" ({running:.0f} running)" if running < f["rooms"] else "")


def e2e_table(figs: list[dict[str, float]]) -> None:
    """The (c) steps as a Markdown table (docs/benchmarks.md)."""
    print(
        "| rooms | msgs/s delivered | delivered in the window | service CPU (% of a core)"
        " | µs service CPU per message | service RSS end / peak (MB) | MB per room | p50 (ms)"
        " | p99 (ms) | load (1 min, start → end) |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for f in figs:
        if "p50" not in f:
            print(f"| {rooms_cell(f)} | nothing delivered | | | | | | | | |")
            continue
        print(
            f"| {rooms_cell(f)} | {f['msgs']:,.0f} | {f['kept_up']:.1f} % | {f['service_cpu']:.0f} |"
            f" {f['us_per_msg']:.0f} |"
            f" {f['rss']:.0f} / {f['peak']:.0f} | {f['peak'] / f['rooms']:.2f} |"
            f" {f['p50']:.0f} | {f['p99']:.0f} | {f['load_start']:.1f} → {f['load']:.1f} |"
        )


def stage_table(figs: list[dict[str, float]]) -> None:
    """µs of service CPU per delivered message by stage (from the profiles), one row per step."""
    cols = [s for s in STAGE_ORDER if any(f"stage:{s}" in f for f in figs)]
    if not cols:
        return
    print("| rooms | µs per message | " + " | ".join(cols) + " |")
    print("|---|---|" + "---|" * len(cols))
    for f in figs:
        if "us_per_msg" in f:
            cells = " | ".join(f"{f.get(f'stage:{s}', 0.0):.0f}" for s in cols)
            print(f"| {f['rooms']:.0f} | {f['us_per_msg']:.0f} | {cells} |")


async def main(args: argparse.Namespace) -> None:
    parts = args.parts or ["a", "b", "c"]
    profile = args.profile
    if profile:
        Path(profile).mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        if "a" in parts:
            await ingest(str(Path(tmp) / "a1.sqlite3"), 200_000, "NORMAL")
            await ingest(str(Path(tmp) / "a2.sqlite3"), 100_000, "FULL")
        if "b" in parts:
            # the default stack, then (--h11) the pure-Python one: asyncio loop, h11 parser
            stacks = [{}, {"DYLIVE_LOOP": "asyncio", "DYLIVE_HTTP": "h11"}] if args.h11 else [{}]
            for n, stack in enumerate(stacks):
                stack = {**stack, "DYLIVE_BENCH_SERVER": args.server}
                saved = {k: os.environ.get(k) for k in stack}
                os.environ.update(stack)  # the service child inherits it
                try:
                    pairs = ["off", "on"] * args.pairs
                    modes = pairs if args.metering == "both" else [args.metering]
                    got: dict[str, list[tuple[float, float, dict[str, float]]]] = {}
                    for i, mode in enumerate(modes):
                        (Path(tmp) / f"b{n}{mode}{i}").mkdir()
                        figures = await chat_vs_bare(
                            str(Path(tmp) / f"b{n}{mode}{i}"),
                            seconds=args.b_seconds,
                            rounds=args.rounds,
                            profile=profile,
                            postgres=args.postgres,
                            metering=mode,
                        )
                        got.setdefault(mode, []).append(figures)
                    if len(got) == 2:
                        metering_table(got["off"], got["on"])
                finally:
                    for k, v in saved.items():
                        if v is None:
                            os.environ.pop(k, None)
                        else:
                            os.environ[k] = v
        if "c" in parts and args.postgres:
            await fleet_ladder(tmp, args)
        elif "c" in parts:
            if args.nodes != [1]:
                raise SystemExit("--nodes needs --postgres (a fleet is PostgreSQL only)")
            figs = [
                await run_e2e(
                    tmp,
                    rooms=n,
                    rate=args.rate,
                    seconds=args.seconds,
                    profile=profile,
                    window_file=args.window_file,
                )
                for n in args.rooms
            ]
            if len(figs) > 1:
                e2e_table(figs)
            if profile:
                stage_table(figs)


def holds(fig: dict[str, float]) -> bool:
    """A step the service held: every room running when the window opened, p99 < 1 s, ≥ 99 %
    of the window's messages delivered, no poller stalled."""
    return (
        "p99" in fig
        and fig["running"] >= fig["rooms"]
        and fig["p99"] < 1000
        and fig["kept_up"] >= 99
        and not fig["stalled"]
    )


async def fleet_ladder(tmp: str, args: argparse.Namespace) -> None:
    """(c) on PostgreSQL: for each ``--rooms`` step (ascending) one run per ``--nodes`` count,
    side by side; a node count stops climbing after its first step that does not hold. Prints
    the table and the highest delivered rate each node count held, and their ratio."""
    figs: list[dict[str, float]] = []
    climbing = list(args.nodes)
    for n in sorted(args.rooms):
        for k in list(climbing):
            fig = await run_e2e(
                tmp, rooms=n, rate=args.rate, seconds=args.seconds, profile=args.profile,
                postgres=args.postgres, nodes=k,
            )  # fmt: skip
            figs.append(fig)
            if not holds(fig):
                climbing.remove(k)
        if not climbing:
            break
    print(
        "| rooms | nodes | msgs/s delivered | delivered in the window | p50 (ms) | p99 (ms)"
        " | service CPU (% of a core, all nodes) | µs service CPU per message | RSS end (MB)"
        " | held | load (1 min, start → end) |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for f in figs:
        if "p50" not in f:
            print(f"| {rooms_cell(f)} | {f['nodes']:.0f} | nothing delivered | | | | | | | no | |")
            continue
        print(
            f"| {rooms_cell(f)} | {f['nodes']:.0f} | {f['msgs']:,.0f} | {f['kept_up']:.1f} % |"
            f" {f['p50']:.0f} | {f['p99']:.0f} | {f['service_cpu']:.0f} | {f['us_per_msg']:.0f} |"
            f" {f['rss']:.0f} | {'yes' if holds(f) else 'no'} |"
            f" {f['load_start']:.1f} → {f['load']:.1f} |"
        )
    held: dict[int, dict[str, float]] = {}
    for f in figs:
        k = int(f["nodes"])
        if holds(f) and f["msgs"] > held.get(k, {}).get("msgs", 0.0):
            held[k] = f
    parts = [
        f"{k} node{'s' if k > 1 else ''} {held[k]['msgs']:,.0f} msgs/s ({held[k]['rooms']:.0f} rooms)"
        if k in held
        else f"{k} node{'s' if k > 1 else ''}: no step held"
        for k in args.nodes
    ]
    line = "(c) PostgreSQL: highest rate held at p99 < 1 s, >= 99 % delivered: " + "; ".join(parts)
    if len(args.nodes) > 1 and all(k in held for k in args.nodes):
        first, last = held[args.nodes[0]]["msgs"], held[args.nodes[-1]]["msgs"]
        line += f"; ratio {args.nodes[-1]}/{args.nodes[0]} nodes {last / first:.2f}"
    top = max(args.rooms)
    if any(f["rooms"] == top and holds(f) for f in figs):
        line += f" (a count that held at {top} rooms, the last step, may hold more)"
    print(line)


def metering_table(
    off: list[tuple[float, float, dict[str, float]]],
    on: list[tuple[float, float, dict[str, float]]],
) -> None:
    """(b) with usage metering off and on (alternating runs): the chat ratios and the service's
    CPU per request side by side (medians over the runs), and the metering's own cost per
    request measured in this process (what ``guarded`` adds for a token's answer)."""
    print(f"    usage metering off vs on, {len(off)} runs each, alternating (target: the chat")
    print("    ratio drops by <= 5 %):")
    for i, name in enumerate(("live", "history")):
        before = statistics.median(r[i] for r in off)
        after = statistics.median(r[i] for r in on)
        cpu_off = statistics.median(r[2].get(name, 0.0) for r in off)
        cpu_on = statistics.median(r[2].get(name, 0.0) for r in on)
        print(
            f"      {name:7} ratio off {before:.3f}, on {after:.3f}"
            f" ({(after / before - 1) * 100:+.1f} %); service CPU per request"
            f" off {cpu_off:.0f} us, on {cpu_on:.0f} us ({(cpu_on / cpu_off - 1) * 100:+.1f} %)"
        )
    cost = metering_cost()
    live_cpu = statistics.median(r[2].get("live", 0.0) for r in off)
    print(
        f"      the metering's own CPU per request (in process, 200,000 counts): {cost:.2f} us"
        f" = {cost / live_cpu * 100:.1f} % of a live chat page ({live_cpu:.0f} us)"
    )


def metering_cost(n: int = 200_000) -> float:
    """CPU time (us) of what ``dylive.serve.app.guarded`` does per answered request of a token
    with metering on: the scope look-ups, the name check, :meth:`Meter.count`, the body size."""
    from dylive.app.usage import Meter
    from dylive.store import TokenRecord

    meter = Meter(None, interval=3600)  # type: ignore[arg-type]  (never flushed here)
    token = TokenRecord(1, "bench", "d" * 64, 0, 0.0, 0)
    scope = {"dylive.token": token, "dylive.messages": 50}
    body = b"x" * 24_000
    started = time.process_time()
    for _ in range(n):
        got = scope.get("dylive.token")
        if got is not None:
            if got.id not in meter.names:
                meter.names[got.id] = got.name
            meter.count(got.id, "chat", 200, scope.get("dylive.messages", 0), len(body))
    return (time.process_time() - started) / n * 1e6


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).parent))
    parser = argparse.ArgumentParser(description="API service benchmarks")
    parser.add_argument("parts", nargs="*", choices=["a", "b", "c"], help="default: all")
    parser.add_argument(
        "--rooms",
        type=lambda text: [int(x) for x in text.split(",")],
        default=[200],
        help="(c) rooms; a comma-separated list runs one step each and prints a table",
    )
    parser.add_argument("--rate", type=float, default=10.0, help="(c) messages/s per room")
    parser.add_argument("--seconds", type=float, default=20.0, help="(c) measured seconds")
    parser.add_argument("--b-seconds", type=float, default=3.0, help="(b) seconds per phase")
    parser.add_argument("--rounds", type=int, default=3, help="(b) rounds")
    parser.add_argument(
        "--metering",
        choices=("both", "on", "off"),
        default="both",
        help="(b) usage metering of the service: off then on, compared (default), or one",
    )
    parser.add_argument(
        "--pairs", type=int, default=2, help="(b) off/on runs of --metering both (2)"
    )
    parser.add_argument(
        "--server",
        choices=("edge", "uvicorn"),
        default="edge",
        help="(b) the service's server: edge = serve/limits.server_config, as `dylive serve`"
        " runs it (the edge protocols, the direct routes' one-write responses; default);"
        " uvicorn = uvicorn.Config's own protocols and defaults (the figures before the eighth"
        " session)",
    )
    parser.add_argument(
        "--h11",
        action="store_true",
        help="(b) also on the pure-Python stack (DYLIVE_LOOP=asyncio DYLIVE_HTTP=h11)",
    )
    parser.add_argument(
        "--postgres",
        default="",
        metavar="ADMIN_URL",
        help="(b) and (c) on PostgreSQL: a database is created there for each run and dropped"
        " afterwards; (c) then runs fleet nodes and climbs --rooms per --nodes count",
    )
    parser.add_argument(
        "--nodes",
        type=lambda text: [int(x) for x in text.split(",")],
        default=[1],
        help="(c, with --postgres) fleet node counts, e.g. 1,2: each --rooms step runs once per"
        " count, side by side",
    )
    parser.add_argument(
        "--profile", default="", help="directory: py-spy profiles of the service (dev extra)"
    )
    parser.add_argument(
        "--window-file",
        default="",
        help="(c) written when the window opens: the service's pid, the window's start and end"
        " (Unix s) and the database, for a tracer attached from outside (bench/syscalls.py)",
    )
    parser.add_argument(
        "--loop",
        choices=("auto", "uvloop", "asyncio"),
        default="auto",
        help="event loop of this process (the pollers of c, the clients of b): auto = uvloop when"
        " only c runs (the pollers take less of the machine the service shares), else asyncio"
        " (b's figures stay comparable with earlier runs)",
    )
    parser.add_argument(
        "--sim-arg",
        action="append",
        default=[],
        help="(c) an option of the simulator, repeatable: --sim-arg=--refuse-handshake refuses"
        " every push handshake, so the collectors poll im/fetch (the polling transport)",
    )
    args = parser.parse_args()
    SIM_ARGS.extend(args.sim_arg)
    loop = args.loop
    if loop == "auto":
        loop = "uvloop" if args.parts == ["c"] else "asyncio"
    with asyncio.Runner(loop_factory=runtime.loop_factory(loop)) as runner:
        print(f"(this process: {runtime.loop_name(loop)} loop)")
        runner.run(main(args))

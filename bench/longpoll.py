# ruff: noqa: ASYNC110, ASYNC220  (a benchmark driver: polling waits and blocking setup calls are fine here)
"""The long-poll chat request path alone: service CPU per request and per delivered message.

``bench/api.py c`` measures the whole service (collectors, decode, ingest, HTTP); this one keeps
the HTTP path of its pollers and drops the rest. A ``dylive serve``-like child (the app of
:func:`dylive.serve.app.create_app` behind the edge protocols of :func:`server_config`) serves
``--rooms`` rooms named by web_rid (resolved live by a stub resolver, collected by a source that
never yields) and a feeder task in the child appends a batch of 2 or 3 messages to every room each
``--every`` seconds straight into the store (as ingestion's commits do: the tail cache, the
per-room wake-up). One long-poller per room (keep-alive, ``count=200&wait=2``, the cursor echoed
back: what ``bench/api.py c`` does) runs in this process.

Phases alternate for ``--rounds``: "feed" (the feeder alone) and "poll" (the feeder and the
pollers), ``--seconds`` each. The service CPU of the pollers is the poll phase's CPU less the
feed phase's (per second); printed per request and per delivered message, by round and as the
median, with the requests/s and the messages per request, and the load average; the same
difference for the event loop thread alone (user and system time of the main thread: the HTTP
path without the store's writer and reader threads) per request.

Usage: ``python bench/longpoll.py [--rooms 200] [--every 0.25] [--seconds 6] [--rounds 3]
[--profile FILE]`` (``--profile``: py-spy of the child during the poll phases, raw format).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson
from api import ROOM, cpu_seconds, free_port, http_get, record, stop, wait_listening
from profiling import attach, detach

FIRST_WEB_RID = 700_000_000_000


def loop_cpu_seconds(pid: int) -> tuple[float, float]:
    """(user, system) CPU time of the process's main thread (its event loop: the HTTP path,
    without the store's writer and reader threads)."""
    fields = Path(f"/proc/{pid}/task/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / tick, int(fields[12]) / tick


def bench_app(db: str) -> Any:
    """The service's app on ``db`` with rooms web_rid FIRST_WEB_RID + i -> room ROOM + i,
    resolved at once and never collected (the bench feeds the store itself)."""
    from dylive.app import ServiceConfig
    from dylive.serve.app import create_app
    from dylive.source.room import STATUS_LIVE, RoomInfo

    async def resolve(key: str) -> RoomInfo:
        return RoomInfo(key, ROOM + int(key) - FIRST_WEB_RID, STATUS_LIVE)

    @contextlib.asynccontextmanager
    async def idle(*_: object) -> Any:
        async def never() -> Any:
            await asyncio.Event().wait()
            yield None

        yield never()

    config = ServiceConfig(
        db=db,
        upstream="http://127.0.0.1:9",
        ranklist=False,
        resolver=resolve,
        source_factory=idle,  # type: ignore[arg-type]
    )
    return create_app(config)


def child(db: str, port: int, rooms: int, every: float) -> None:
    """The service process: the app on the edge protocols, and the feeder."""
    import uvicorn

    from dylive.serve import runtime
    from dylive.serve.limits import server_config

    app = bench_app(db)

    async def feed() -> None:
        store = app.state.svc.store
        msg_id = 6922636275858098944
        tick = 0

        async def one(room_id: int, n: int) -> None:
            nonlocal msg_id
            batch = [record(room_id, msg_id + i) for i in range(n)]
            msg_id += n
            await store.append(batch)

        while True:
            started = time.monotonic()
            # every room once per ``every``, spread over it (as the collectors' frames arrive)
            for i in range(rooms):
                await one(ROOM + i, 2 + (i + tick) % 2)
                await asyncio.sleep(max(0.0, started + every * (i + 1) / rooms - time.monotonic()))
            tick += 1

    async def main() -> None:
        server = uvicorn.Server(server_config(app, "127.0.0.1", port, http=runtime.http_name()))
        task = asyncio.create_task(server.serve())
        while not server.started and not task.done():
            await asyncio.sleep(0.02)
        feeder = asyncio.create_task(feed())
        try:
            await task
        finally:
            feeder.cancel()

    runtime.run(main())


class Poller:
    """One room's long-poller; counts requests and messages while ``on`` is set. A connection
    the service closed while the poller was paused (its keep-alive timeout) is opened again."""

    def __init__(self, port: int, web_rid: int, token: str) -> None:
        self.port = port
        self.path = f"/douyin/liveroom/chat?token={token}&room_id={web_rid}&methods=all"
        self.cursor = ""
        self.requests = self.messages = self.errors = self.answers = 0
        self.conn: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def prime(self) -> None:
        self.conn = await asyncio.open_connection("127.0.0.1", self.port)
        while not self.cursor:
            data = orjson.loads(await http_get(*self.conn, self.path + "&count=1"))["data"]
            self.cursor = data.get("cursor", "") if isinstance(data, dict) else ""
            if not self.cursor:
                await asyncio.sleep(0.5)

    async def run(self, on: asyncio.Event, done: asyncio.Event, counting: list[bool]) -> None:
        assert self.conn is not None
        while not done.is_set():
            await on.wait()
            if done.is_set():
                return
            path = f"{self.path}&count=200&wait=2&cursor={self.cursor}"
            try:
                body = await http_get(*self.conn, path)
            except (asyncio.IncompleteReadError, ConnectionError):  # closed while idle
                self.conn[1].close()
                self.conn = await asyncio.open_connection("127.0.0.1", self.port)
                continue
            data = orjson.loads(body).get("data") or {}
            if not isinstance(data, dict) or not data.get("cursor"):
                self.errors += 1
                await asyncio.sleep(0.5)
                continue
            self.cursor = data["cursor"]
            self.answers += 1
            if counting[0]:
                self.requests += 1
                self.messages += len(data["messages"])


async def measure(args: argparse.Namespace) -> None:
    from dylive.serve import tokens
    from dylive.store import open_store

    tmp = tempfile.mkdtemp(prefix="dylive-longpoll-")
    db = str(Path(tmp) / "lp.sqlite3")
    async with open_store(db) as store:
        token = await tokens.create(store, "longpoll", room_limit=0)
    port = free_port()
    cmd = [sys.executable, __file__, "--child", db, str(port), str(args.rooms), str(args.every)]
    proc = subprocess.Popen(cmd)
    spy = None
    try:
        await wait_listening(port, proc)
        polls = [Poller(port, FIRST_WEB_RID + i, token) for i in range(args.rooms)]
        await asyncio.gather(*(p.prime() for p in polls))
        on, done = asyncio.Event(), asyncio.Event()
        counting = [False]  # the poll phase is measured once every poller caught up
        tasks = [asyncio.create_task(p.run(on, done, counting)) for p in polls]
        on.set()
        await asyncio.sleep(2.0)  # warm up
        on.clear()
        await asyncio.sleep(2.5)  # in-flight long-polls end (a batch comes every --every s)
        rows: list[tuple[float, float, float, float, float, float]] = []
        for r in range(args.rounds):
            cpu, loop_cpu = cpu_seconds(proc.pid), loop_cpu_seconds(proc.pid)
            await asyncio.sleep(args.seconds)
            feed = (cpu_seconds(proc.pid) - cpu) / args.seconds
            loop_now = loop_cpu_seconds(proc.pid)
            loop_feed = [(b - a) / args.seconds for a, b in zip(loop_cpu, loop_now, strict=True)]
            if args.profile and spy is None:
                spy = attach(proc.pid, args.profile)
            answers = sum(p.answers for p in polls)
            on.set()  # each poller first reads what the feed phase stored (not measured)
            while sum(p.answers for p in polls) < answers + 2 * len(polls):
                await asyncio.sleep(0.05)
            before = sum(p.requests for p in polls), sum(p.messages for p in polls)
            cpu, t = cpu_seconds(proc.pid), time.monotonic()
            loop_cpu = loop_cpu_seconds(proc.pid)
            counting[0] = True
            await asyncio.sleep(args.seconds)
            counting[0] = False
            on.clear()
            used, wall = cpu_seconds(proc.pid) - cpu, time.monotonic() - t
            loop_used = [b - a for a, b in zip(loop_cpu, loop_cpu_seconds(proc.pid), strict=True)]
            if r == args.rounds - 1:
                detach(spy)
            requests = sum(p.requests for p in polls) - before[0]
            messages = sum(p.messages for p in polls) - before[1]
            http = used - feed * wall  # the pollers' share of the service CPU
            # ... of the event loop thread's (user, system)
            loop_http = [
                1e6 * (u - f * wall) / max(1, requests)
                for u, f in zip(loop_used, loop_feed, strict=True)
            ]
            rows.append(
                (1e6 * http / max(1, requests), 1e6 * http / max(1, messages), requests / wall,
                 messages / max(1, requests), loop_http[0], loop_http[1])
            )  # fmt: skip
            await asyncio.sleep(2.5)  # in-flight long-polls end before the next feed phase
        done.set()
        on.set()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    finally:
        detach(spy)
        stop(proc)
    load = os.getloadavg()
    print(
        f"longpoll: {args.rooms} rooms, a batch of 2-3 messages every {args.every:g} s each,"
        f" {args.rounds} rounds of {args.seconds:g} s (load {load[0]:.2f} {load[1]:.2f}):"
        f" errors {sum(p.errors for p in polls)}"
    )
    for r, (per_req, per_msg, rate, size, user, kernel) in enumerate(rows):
        print(
            f"    round {r + 1}: {rate:,.0f} requests/s, {size:.2f} messages per request;"
            f" service CPU {per_req:.0f} us per request (event loop thread {user + kernel:.0f}:"
            f" user {user:.0f}, system {kernel:.0f}), {per_msg:.0f} us per message"
        )
    print(
        f"    median: service CPU {statistics.median(r[0] for r in rows):.0f} us per request"
        f" (event loop thread {statistics.median(r[4] + r[5] for r in rows):.0f}),"
        f" {statistics.median(r[1] for r in rows):.0f} us per delivered message"
    )


def main() -> None:
    if sys.argv[1:2] == ["--child"]:
        db, port, rooms, every = sys.argv[2:6]
        child(db, int(port), int(rooms), float(every))
        return
    parser = argparse.ArgumentParser(description="long-poll chat requests: service CPU")
    parser.add_argument("--rooms", type=int, default=200)
    parser.add_argument("--every", type=float, default=0.25, help="s between a room's batches")
    parser.add_argument("--seconds", type=float, default=6.0, help="s per phase")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--profile", default="", help="file: py-spy of the poll phases (raw)")
    asyncio.run(measure(parser.parse_args()))


if __name__ == "__main__":
    main()

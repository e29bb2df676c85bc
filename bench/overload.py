# ruff: noqa: ASYNC220, ASYNC221  (a benchmark driver: blocking setup calls are fine here)
"""Overload: a CPU hog beside the service, then recovery; prints figures (no assertions).

The simulator (a subprocess) with ``--rooms`` rooms × ``--rate`` messages/s → ``dylive serve``
(a subprocess: pinned collectors, SQLite) → one long-poller per room in this process, as
``bench/api.py c`` does. Phases: ``warm`` (``--warm`` s), ``hog`` (``--hog`` s: a process
burning a core, pinned to the same core as the service with ``--core``), ``after`` (``--after``
s, the hog stopped), then ``drain``: the simulator stops emitting and the run waits (at most
``--drain`` s) until every message of the simulator's log is stored.

Every ``--every`` seconds it prints a row: the service's RSS and CPU share, the messages pending
across rooms (``dylive_ingest_pending``), whether it is ``overloaded`` (``/healthz``, and the
rooms whose upstream reading is paused), messages stored and delivered per second, and how long
``/healthz`` and a one-message chat page took to answer (readers kept being served?). Per phase:
messages emitted, stored, delivered to the pollers in the phase (share), emit→delivery
p50/p99. At the end, from the database and the simulator's logs: per room, every message after
the room's first stored one must be stored exactly once (lost / duplicated, gaps reported).

``--passes 100000:1,0:0`` runs one pass per ``DYLIVE_PENDING_LIMIT:DYLIVE_LAG_LIMIT`` pair
(``0:0``: no global bound, each room keeps up to 50,000 pending, and no pause for the event
loop's lag: the service as it was) and prints them one after the other. Bounded by the phases +
``--start`` + ``--drain``; the children are always terminated.

Usage: ``python bench/overload.py [--rooms 200] [--rate 10] [--warm 15] [--hog 40]
[--after 30] [--drain 60] [--passes 100000:1] [--core 0] [--hogs 1]``
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson
from api import cpu_seconds, free_port, http_get, rss_mb, spawn, stop, wait_listening

from dylive.store.migrations import to_signed, to_unsigned

HOG = "while True: pass"


@dataclass
class Run:
    """What one pass measured."""

    limit: int
    lag: float
    rows: list[dict[str, Any]] = field(default_factory=list)
    delivered: list[tuple[int, float]] = field(default_factory=list)  # (msg_id, when)
    phases: list[tuple[str, float, float]] = field(default_factory=list)  # name, start, end
    probes: list[tuple[float, float, float]] = field(default_factory=list)  # when, healthz, chat
    figures: dict[str, Any] = field(default_factory=dict)


def pin(pid: int, cores: set[int]) -> None:
    """Set the CPU affinity of every thread of a process."""
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError):
            os.sched_setaffinity(int(task.name), cores)


def metric(text: str, name: str) -> float:
    found = re.search(rf"^{name} (\S+)$", text, re.MULTILINE)
    return float(found.group(1)) if found else float("nan")


def phase_of(run: Run, when: float) -> str:
    for name, start, end in run.phases:
        if start <= when < end:
            return name
    return run.phases[-1][0] if run.phases and when >= run.phases[-1][1] else "start"


async def long_poll(
    port: int, path: str, stop_at: list[float], out: list[tuple[int, float]]
) -> None:
    """One room's poller: keep-alive, ``wait=2`` long-poll, cursor echoed back, until told."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        data = orjson.loads(await http_get(reader, writer, path + "&count=1"))["data"]
        while not stop_at or time.time() < stop_at[0]:
            body = await http_get(
                reader, writer, f"{path}&count=200&wait=2&cursor={data['cursor']}"
            )
            now = time.time()
            data = orjson.loads(body)["data"]
            out.extend((m["msg_id"], now) for m in data["messages"])
    except (OSError, asyncio.IncompleteReadError, KeyError):
        pass  # the service stopped
    finally:
        writer.close()


def mean(values: Any) -> float:
    got = [v for v in values if v == v]  # NaN: no figure
    return statistics.fmean(got) if got else float("nan")


async def timed_get(client: httpx.AsyncClient, path: str) -> tuple[float, httpx.Response | None]:
    """(seconds, response); None when it did not answer within 10 s."""
    started = time.perf_counter()
    try:
        resp = await client.get(path, timeout=10.0)
    except httpx.HTTPError:
        return time.perf_counter() - started, None
    return time.perf_counter() - started, resp


async def probe(client: httpx.AsyncClient, chat: str, run: Run, stop_at: list[float]) -> None:
    """Every 0.5 s: how long /healthz and a one-message chat page take to answer."""
    while not stop_at or time.time() < stop_at[0]:
        health, _ = await timed_get(client, "/healthz")
        page, _ = await timed_get(client, chat)
        run.probes.append((time.time(), health, page))
        await asyncio.sleep(0.5)


async def sample(
    client: httpx.AsyncClient, pid: int, run: Run, every: float, stop_at: list[float]
) -> None:
    """Every ``every`` s: one row of figures (printed as it comes)."""
    last = (time.time(), cpu_seconds(pid), 0.0, 0)
    while not stop_at or time.time() < stop_at[0]:
        await asyncio.sleep(every)
        now, cpu = time.time(), cpu_seconds(pid)
        _, resp = await timed_get(client, "/metrics")
        text = resp.text if resp is not None else ""
        _, resp = await timed_get(client, "/healthz")
        health = orjson.loads(resp.content)["data"] if resp is not None else {}
        stored = metric(text, "dylive_messages_stored_total")
        if stored != stored:  # /metrics did not answer in time: keep the last count
            stored = last[2]
        delivered = len(run.delivered)
        span = now - last[0]
        row = {
            "t": now,
            "phase": phase_of(run, now),
            "rss": rss_mb(pid)[0],
            "cpu": 100 * (cpu - last[1]) / span,
            "pending": metric(text, "dylive_ingest_pending"),
            "paused": metric(text, "dylive_rooms_reading_paused"),
            "overloaded": any(r.startswith("overloaded") for r in health.get("reasons", [])),
            "status": health.get("status", "no answer"),
            "stored_s": (stored - last[2]) / span if last[2] else float("nan"),
            "delivered_s": (delivered - last[3]) / span,
        }
        last = (now, cpu, stored, delivered)
        run.rows.append(row)
        t0 = run.phases[0][1] if run.phases else now
        print(
            f"  {now - t0:6.1f} s {row['phase']:<6} RSS {row['rss']:6.0f} MB  CPU {row['cpu']:4.0f} %"
            f"  pending {row['pending']:8.0f}  paused rooms {row['paused']:4.0f}"
            f"  {row['status']:<9} {'OVERLOADED' if row['overloaded'] else '':<10}"
            f"  stored {row['stored_s']:7.0f}/s  delivered {row['delivered_s']:6.0f}/s",
            flush=True,
        )


def stored_by_room(db: str) -> dict[int, list[int]]:
    conn = sqlite3.connect(db)
    try:
        rows = conn.execute("SELECT room_id, msg_id FROM events ORDER BY seq").fetchall()
    finally:
        conn.close()
    out: dict[int, list[int]] = {}
    for room_id, msg_id in rows:
        out.setdefault(to_unsigned(room_id), []).append(to_unsigned(msg_id))
    return out


def all_stored(db: str, logs: dict[int, list[int]]) -> bool:
    """Whether the last message of every room's log is stored (one index probe per room)."""
    conn = sqlite3.connect(db)
    try:
        for room_id, ids in logs.items():
            if (
                ids
                and not conn.execute(
                    "SELECT 1 FROM events WHERE room_id = ? AND msg_id = ?",
                    (to_signed(room_id), to_signed(ids[-1])),
                ).fetchone()
            ):
                return False
    finally:
        conn.close()
    return True


def exactness(logs: dict[int, list[int]], stored: dict[int, list[int]]) -> dict[str, int]:
    """Per room, the log after the room's first stored message vs what was stored."""
    lost = dup = expected = rooms_short = 0
    for room_id, ids in logs.items():
        got = stored.get(room_id, [])
        if not got:
            rooms_short += 1
            lost += len(ids)
            continue
        dup += len(got) - len(set(got))
        tail = ids[ids.index(got[0]) :] if got[0] in ids else ids
        expected += len(tail)
        missing = set(tail) - set(got)
        lost += len(missing)
        rooms_short += bool(missing)
    return {"expected": expected, "lost": lost, "duplicated": dup, "rooms_short": rooms_short}


async def one_pass(tmp: str, args: argparse.Namespace, limit: int, lag: float) -> Run:
    run = Run(limit, lag)
    cores = os.sched_getaffinity(0)
    db = str(Path(tmp) / f"overload-{limit}-{lag:g}.sqlite3")
    sim_port, api_port = free_port(), free_port()
    web_rids = [str(710_000_000_000 + i) for i in range(args.rooms)]
    made = subprocess.run(
        [sys.executable, "-m", "dylive", "token", "create", "--db", db, "--name", "bench",
         "--room-limit", "0"],
        check=True, capture_output=True,
    )  # fmt: skip
    token = made.stdout.decode().split()[-1]
    sim = spawn("sim", "--port", str(sim_port), "--rate", str(args.rate), "--seed", "3")
    serve: subprocess.Popen[bytes] | None = None
    hog: list[subprocess.Popen[bytes]] = []
    room_ids: dict[str, int] = {}
    stop_at: list[float] = []
    logs: dict[int, list[int]] = {}  # room_id -> the simulator's log (final once it stops)
    created: dict[int, int] = {}  # msg_id -> created_at (ms)
    tasks: list[asyncio.Future[Any]] = []
    os.environ["DYLIVE_PENDING_LIMIT"] = str(limit)  # the service child inherits them
    os.environ["DYLIVE_LAG_LIMIT"] = f"{lag:g}"
    sim_url = f"http://127.0.0.1:{sim_port}"
    api_url = f"http://127.0.0.1:{api_port}"
    try:
        await wait_listening(sim_port, sim)
        async with httpx.AsyncClient(base_url=sim_url, timeout=60) as client:
            for web_rid in web_rids:
                resp = await client.post("/__sim/rooms", json={"web_rid": web_rid})
                room_ids[web_rid] = int(resp.json()["room_id"])
        pins = [arg for w in web_rids for arg in ("--room", w)]
        serve = spawn(
            "serve", "--db", db, "--upstream", sim_url, "--port", str(api_port),
            "--signing", "off", "--no-ranklist", *pins,
        )  # fmt: skip
        await wait_listening(api_port, serve, within=60)
        async with httpx.AsyncClient(base_url=api_url, timeout=60) as client:
            started = time.time()
            while time.time() < started + args.start:
                listed = orjson.loads((await client.get(f"/api/rooms?token={token}")).content)
                states = listed["data"]["rooms"]
                if states and not any(r.get("state") == "starting" for r in states):
                    break
                await asyncio.sleep(2.0)
            collecting = sum(bool(r.get("collecting")) for r in states)
            print(f"  {collecting} rooms collecting {time.time() - started:.0f} s after start")
            await asyncio.sleep(5.0)  # collectors connect
            paths = [
                f"/douyin/liveroom/chat?token={token}&room_id={w}&methods=all" for w in web_rids
            ]
            chat = f"{paths[0]}&count=1"
            tasks = [
                asyncio.ensure_future(long_poll(api_port, p, stop_at, run.delivered)) for p in paths
            ]
            tasks.append(asyncio.ensure_future(probe(client, chat, run, stop_at)))
            tasks.append(asyncio.ensure_future(sample(client, serve.pid, run, args.every, stop_at)))
            cpu0, wall0 = cpu_seconds(serve.pid), time.time()
            t = wall0
            for name, seconds in (("warm", args.warm), ("hog", args.hog), ("after", args.after)):
                run.phases.append((name, t, t + seconds))
                if name == "hog":
                    if args.core >= 0:  # the service shares one core with the hog meanwhile
                        pin(serve.pid, {args.core})
                    for _ in range(args.hogs):
                        proc = subprocess.Popen([sys.executable, "-c", HOG])
                        if args.core >= 0:
                            pin(proc.pid, {args.core})
                        hog.append(proc)
                await asyncio.sleep(max(0.0, t + seconds - time.time()))
                if name == "hog":
                    for proc in hog:
                        stop(proc)
                    pin(serve.pid, cores)
                t += seconds
            drain_start = time.time()
            run.phases.append(("drain", drain_start, drain_start + args.drain))
            async with httpx.AsyncClient(base_url=sim_url, timeout=120) as sim_client:
                for web_rid in web_rids:  # upstream stops emitting: every log is final now
                    await sim_client.post(f"/__sim/rooms/{web_rid}/rate", json={"rate": 0})
                for web_rid in web_rids:
                    log = orjson.loads(
                        (await sim_client.get(f"/__sim/rooms/{web_rid}/log")).content
                    )
                    logs[room_ids[web_rid]] = [int(e["msg_id"]) for e in log]
                    created.update((int(e["msg_id"]), int(e["created_at"])) for e in log)
            caught_up = float("nan")
            while time.time() < drain_start + args.drain:
                if all_stored(db, logs):
                    caught_up = time.time() - drain_start
                    break
                await asyncio.sleep(1.0)
            run.figures["drain_seconds"] = caught_up
            run.phases[-1] = ("drain", drain_start, time.time())
            run.figures["cpu_share"] = 100 * (cpu_seconds(serve.pid) - cpu0) / (time.time() - wall0)
            _, peak = rss_mb(serve.pid)
            run.figures["peak_rss"] = peak
            listed = orjson.loads((await client.get(f"/api/rooms?token={token}")).content)
            rooms = listed["data"]["rooms"]
            run.figures["gaps"] = sum(r.get("gaps", 0) for r in rooms)
            run.figures["missed"] = sum(r.get("missed", 0) for r in rooms)
            run.figures["waits"] = listed["data"].get("overload", {}).get("waits", 0)
            run.figures["pending_peak"] = listed["data"].get("overload", {}).get("peak", 0)
        stop_at.append(time.time())
        await asyncio.wait(tasks, timeout=30)
        stop(serve)
        run.figures.update(exactness(logs, stored_by_room(db)))
        run.figures["created"] = created
    finally:
        for task in tasks:
            task.cancel()
        for proc in hog:
            stop(proc)
        if serve is not None:
            stop(serve)
        stop(sim)
    return run


def phase_table(run: Run) -> None:
    created: dict[int, int] = run.figures.pop("created", {})
    print(
        "  | phase | s | emitted/s | stored/s | delivered/s | of those emitted: delivered by the end"
        " | their emit→delivery p50 / p99 (ms) | RSS max (MB) | CPU % | overloaded rows"
        " | pending max | /healthz p50 / max (ms) | chat page p50 / max (ms) |"
    )
    print("  |---|---|---|---|---|---|---|---|---|---|---|---|---|")
    first: dict[int, float] = {}
    for m, when in run.delivered:
        first.setdefault(m, when)
    for name, start, end in run.phases:
        emitted = [m for m, c in created.items() if start <= c / 1000 < end]
        during = sum(1 for _, when in run.delivered if start <= when < end)
        lat = sorted(first[m] - created[m] / 1000 for m in emitted if m in first)
        rows = [r for r in run.rows if r["phase"] == name]
        probes = [p for p in run.probes if start <= p[0] < end]
        span = max(1e-9, end - start)
        share = 100 * len(lat) / max(1, len(emitted))
        stored = mean(r["stored_s"] for r in rows)
        p50 = 1000 * statistics.median(lat) if lat else float("nan")
        p99 = 1000 * lat[min(len(lat) - 1, int(len(lat) * 0.99))] if lat else float("nan")
        health = sorted(p[1] * 1000 for p in probes)
        page = sorted(p[2] * 1000 for p in probes)
        print(
            f"  | {name} | {span:.0f} | {len(emitted) / span:,.0f} | {stored:,.0f}"
            f" | {during / span:,.0f} | {share:.1f} %"
            f" | {p50:,.0f} / {p99:,.0f} | {max((r['rss'] for r in rows), default=float('nan')):.0f}"
            f" | {mean(r['cpu'] for r in rows):.0f}"
            f" | {sum(r['overloaded'] for r in rows)}/{len(rows)}"
            f" | {max((r['pending'] for r in rows), default=float('nan')):,.0f}"
            f" | {statistics.median(health) if health else float('nan'):,.0f} / {max(health, default=float('nan')):,.0f}"
            f" | {statistics.median(page) if page else float('nan'):,.0f} / {max(page, default=float('nan')):,.0f} |"
        )
    f = run.figures
    print(
        f"  after the hog: every message stored {f['drain_seconds']:.1f} s after upstream stopped"
        f" emitting; of {f['expected']:,} messages after each room's first stored one: lost"
        f" {f['lost']}, duplicated {f['duplicated']} ({f['rooms_short']} rooms short); gaps"
        f" {f['gaps']} (missed {f['missed']}); readers waited {f['waits']:,} times, pending peak"
        f" {f['pending_peak']:,}; service peak RSS {f['peak_rss']:.0f} MB, CPU {f['cpu_share']:.0f} %"
        " of a core over the run"
    )


async def main(args: argparse.Namespace) -> None:
    passes = [(int(a), float(b)) for a, _, b in (x.partition(":") for x in args.passes.split(","))]
    print(
        f"overload: {args.rooms} rooms x {args.rate:g} msgs/s; warm {args.warm:g} s, hog"
        f" {args.hog:g} s ({args.hogs} process(es) burning a core"
        + (f", service and hog pinned to core {args.core} meanwhile" if args.core >= 0 else "")
        + f"), after {args.after:g} s, drain <= {args.drain:g} s; load {os.getloadavg()[0]:.2f}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        for limit, lag in passes:
            print(f"DYLIVE_PENDING_LIMIT={limit} DYLIVE_LAG_LIMIT={lag:g} (0: off):")
            run = await one_pass(tmp, args, limit, lag)
            phase_table(run)
            print(f"  load after the pass {os.getloadavg()[0]:.2f}", flush=True)


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rooms", type=int, default=200)
    p.add_argument("--rate", type=float, default=10.0)
    p.add_argument("--warm", type=float, default=15.0)
    p.add_argument("--hog", type=float, default=40.0)
    p.add_argument("--after", type=float, default=30.0)
    p.add_argument("--drain", type=float, default=60.0)
    p.add_argument("--every", type=float, default=2.0)
    p.add_argument(
        "--passes",
        default="100000:1",
        help="DYLIVE_PENDING_LIMIT:DYLIVE_LAG_LIMIT per pass, e.g. 100000:1,0:0 (0: off)",
    )
    p.add_argument(
        "--core",
        type=int,
        default=0,
        help="during the hog, the service and the hog run here (-1: anywhere)",
    )
    p.add_argument("--start", type=float, default=120.0, help="at most this long for the pins")
    p.add_argument("--hogs", type=int, default=1, help="hog processes")
    asyncio.run(main(p.parse_args()))

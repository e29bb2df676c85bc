# ruff: noqa: ASYNC221  (a benchmark driver: blocking setup calls are fine here)
"""Fleet benchmark: several ``dylive serve`` nodes on one PostgreSQL database; prints figures.

The simulator (subprocess) runs ``--rooms`` rooms at ``--rate`` messages/s; ``--nodes`` nodes
(subprocesses, own database created and dropped) collect them, pinned through the API; one
long-poller per room (``--pollers``, spread over the nodes round-robin, so most of them ask a
node that does not collect their room) follows its room with ``cursor`` and ``wait``. At
``--kill-at`` seconds the busiest node is killed with SIGKILL. Printed at the end:

- rooms per node before and after the kill, and the takeover time (kill → every one of the dead
  node's rooms collecting on another node, as ``GET /api/rooms`` reports it);
- lost / duplicated messages of every room against the simulator's log (from each room's first
  stored message to its last);
- emit → delivery latency p50 / p99, for deliveries through a node that does not collect the
  room and through the owner, and store → delivery (the owner's batch timestamp to the
  long-poll's answer: commit, the cross-node NOTIFY wake-up and the read);
- the observed ingest rate, and a separate burst of fenced appends (20 rooms, batches of 200,
  each with a lease) into the same PostgreSQL database: the durable ingest capacity;
- each node's CPU (% of one core) and RSS;
- with ``--sink nats://…``: every node publishes what it stores to JetStream; the publish rate
  and the stream's message count against the stored count (stream created and deleted here).

Usage: ``python bench/fleet.py [--rooms 300 --rate 5 --pollers 100 --nodes 3 --seconds 120
--kill-at 60] [--sink nats://127.0.0.1:4222]``. Needs PostgreSQL (``DYLIVE_TEST_POSTGRES`` or
127.0.0.1:5432, trust auth).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import signal
import statistics
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson
import psycopg

from dylive.store import Fence, Record
from dylive.store.migrations import to_signed, to_unsigned
from dylive.store.postgres import PostgresStore

ADMIN_URL = os.environ.get("DYLIVE_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
TICK = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def spawn(*args: str, log: str | None = None) -> subprocess.Popen[bytes]:
    err = open(log, "wb") if log else subprocess.DEVNULL  # noqa: SIM115 (lives with the process)
    return subprocess.Popen(
        [sys.executable, "-m", "dylive", "--log-level", "warning", *args],
        stdout=subprocess.DEVNULL,
        stderr=err,
    )


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGCONT)
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def cpu_seconds(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICK
    except OSError:
        return 0.0


def rss_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


async def wait_listening(port: int, proc: subprocess.Popen[bytes], within: float = 60) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode}")
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return
        except OSError:
            await asyncio.sleep(0.1)
    raise RuntimeError(f"nothing listens on {port}")


@dataclass
class NodeProc:
    node_id: str
    port: int
    proc: subprocess.Popen[bytes]
    cpu0: float = 0.0
    t0: float = 0.0
    samples: list[tuple[float, float]] = field(default_factory=list)  # (cpu %, rss MB)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def sample(self) -> None:
        now, cpu = time.monotonic(), cpu_seconds(self.proc.pid)
        if self.t0:
            self.samples.append((100 * (cpu - self.cpu0) / (now - self.t0), rss_mb(self.proc.pid)))
        self.cpu0, self.t0 = cpu, now


@dataclass
class Run:
    args: argparse.Namespace
    db: str
    sim_url: str
    token: str
    web_rids: list[str]
    nodes: list[NodeProc] = field(default_factory=list)
    owner: dict[int, str] = field(default_factory=dict)  # room_id -> node id (refreshed)
    room_ids: dict[str, int] = field(default_factory=dict)
    delivered: list[tuple[int, float, bool]] = field(default_factory=list)  # msg, t, via owner
    events: list[str] = field(default_factory=list)


async def owners(client: httpx.AsyncClient, token: str) -> dict[int, str]:
    resp = await client.get("/api/rooms", params={"token": token})
    rows = orjson.loads(resp.content)["data"]["rooms"]
    return {r["room_id"]: r["node"] for r in rows if r["collecting"]}


async def long_poll(run: Run, node: NodeProc, web_rid: str, until: float) -> None:
    room_id = run.room_ids[web_rid]
    base = f"/douyin/liveroom/chat?token={run.token}&room_id={web_rid}&methods=all"
    async with httpx.AsyncClient(base_url=node.base, timeout=30) as client:
        cursor = ""
        while time.time() < until:
            url = base + "&count=200&wait=5" + (f"&cursor={cursor}" if cursor else "&count=1")
            try:
                resp = await client.get(url)
            except httpx.HTTPError:
                return  # its node was killed
            now = time.time()
            data = orjson.loads(resp.content).get("data") or {}
            via_owner = run.owner.get(room_id) == node.node_id
            run.delivered.extend((m["msg_id"], now, via_owner) for m in data.get("messages", []))
            cursor = data.get("cursor", cursor)


async def start_nodes(run: Run) -> None:
    extra = ["--sink", run.args.sink] if run.args.sink else []
    for i in range(run.args.nodes):
        port = free_port()
        proc = spawn(
            "serve", "--db", run.db, "--upstream", run.sim_url, "--port", str(port),
            "--signing", "off", "--no-ranklist", "--node-id", f"node{i + 1}", *extra,
            log=f"/tmp/dylive-bench-fleet-node{i + 1}.log",
        )  # fmt: skip
        run.nodes.append(NodeProc(f"node{i + 1}", port, proc))
    for node in run.nodes:
        await wait_listening(node.port, node.proc)
        node.sample()


async def pin_all(run: Run) -> None:
    slots = asyncio.Semaphore(8)
    async with httpx.AsyncClient(base_url=run.nodes[0].base, timeout=60) as client:

        async def pin(web_rid: str) -> None:
            async with slots:
                resp = await client.post(f"/api/rooms/{web_rid}/pin", params={"token": run.token})
                run.room_ids[web_rid] = orjson.loads(resp.content)["data"]["room_id"]

        await asyncio.gather(*(pin(w) for w in run.web_rids))
        started = time.monotonic()
        while time.monotonic() - started < 120:
            run.owner = await owners(client, run.token)
            if len(run.owner) == len(run.web_rids):
                return
            await asyncio.sleep(0.5)
    raise RuntimeError(f"only {len(run.owner)} of {len(run.web_rids)} rooms collecting")


def per_node(owner: dict[int, str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for node_id in owner.values():
        out[node_id] = out.get(node_id, 0) + 1
    return dict(sorted(out.items()))


async def watch(run: Run, until: float) -> tuple[dict[str, int], float | None]:
    """Refresh the owner map; SIGKILL the busiest node at ``--kill-at``; the takeover time."""
    before: dict[str, int] = {}
    killed_at: float | None = None
    victim = ""
    took: float | None = None
    kill_at = time.time() + run.args.kill_at
    while time.time() < until:
        alive = [n for n in run.nodes if n.proc.poll() is None]
        async with httpx.AsyncClient(base_url=alive[0].base, timeout=10) as client:
            with contextlib.suppress(httpx.HTTPError, KeyError):
                run.owner = await owners(client, run.token)
        for n in alive:
            n.sample()
        if killed_at is None and time.time() >= kill_at:
            before = per_node(run.owner)
            victim = max(before, key=lambda k: before[k])
            target = next(n for n in run.nodes if n.node_id == victim)
            target.proc.send_signal(signal.SIGKILL)
            killed_at = time.monotonic()
            run.events.append(f"SIGKILL {victim} holding {before[victim]} rooms")
        elif killed_at is not None and took is None:
            moved = sum(1 for node_id in run.owner.values() if node_id != victim)
            if moved == len(run.web_rids):
                took = time.monotonic() - killed_at
        await asyncio.sleep(0.25 if killed_at is not None and took is None else 1.0)
    return before, took


def stored(db: str) -> dict[int, list[int]]:
    out: dict[int, list[int]] = {}
    with psycopg.connect(db, autocommit=True) as conn:
        for room, msg in conn.execute("SELECT room_id, msg_id FROM events ORDER BY seq"):
            out.setdefault(to_unsigned(room), []).append(to_unsigned(msg))
    return out


async def exactness(run: Run) -> tuple[int, int, int, dict[int, int]]:
    """(lost, duplicated, checked, created_at by msg_id) over every room."""
    have = stored(run.db)
    lost = dup = checked = 0
    created: dict[int, int] = {}
    async with httpx.AsyncClient(base_url=run.sim_url, timeout=60) as client:
        for web_rid in run.web_rids:
            log = orjson.loads((await client.get(f"/__sim/rooms/{web_rid}/log")).content)
            created.update((e["msg_id"], e["created_at"]) for e in log)
            ids = have.get(run.room_ids.get(web_rid, 0), [])
            dup += len(ids) - len(set(ids))
            truth = [e["msg_id"] for e in log]
            index = {m: i for i, m in enumerate(truth)}
            spots = [index[m] for m in ids if m in index]
            if spots:
                window = set(truth[min(spots) : max(spots) + 1])
                lost += len(window - set(ids))
                checked += len(window)
    return lost, dup, checked, created


def stored_at(db: str) -> dict[int, int]:
    """msg_id -> when the owner stored it (ms; the commit follows within the batch)."""
    with psycopg.connect(db, autocommit=True) as conn:
        rows = conn.execute("SELECT msg_id, stored_at FROM events").fetchall()
    return {to_unsigned(m): int(t) for m, t in rows}


def bytes_per_message(db: str) -> float:
    with psycopg.connect(db, autocommit=True) as conn:
        row = conn.execute(
            "SELECT pg_total_relation_size('events'), (SELECT count(*) FROM events)"
        ).fetchone()
    return row[0] / max(1, row[1]) if row else 0.0


async def ingest_burst(db: str, total: int = 200_000) -> float:
    """Durable fenced appends: 20 rooms, batches of 200, each room under its own lease."""
    rooms = [9_000_000_000 + r for r in range(20)]
    with psycopg.connect(db, autocommit=True) as conn:
        for r in rooms:
            conn.execute(
                "INSERT INTO fleet_rooms (room_id, ident, owner, epoch) VALUES (%s, 'b', 'bench', 1)",
                (to_signed(r),),
            )
    body = orjson.dumps({"method": "WebcastChatMessage", "payload": {"content": "x" * 120}})
    async with PostgresStore(db) as store:
        per_room = total // len(rooms)

        async def room(r: int) -> None:
            for start in range(0, per_room, 200):
                batch = [
                    Record(r, start + i + 1, "WebcastChatMessage", 1, body, os.urandom(200))
                    for i in range(200)
                ]
                await store.append(batch, fence=Fence("bench", 1))

        started = time.perf_counter()
        await asyncio.gather(*(room(r) for r in rooms))
        return per_room * len(rooms) / (time.perf_counter() - started)


def pct(values: list[float], q: float) -> float:
    return values[min(len(values) - 1, int(len(values) * q))] if values else float("nan")


def report(run: Run, before: dict[str, int], took: float | None, exact: Any) -> None:
    lost, dup, checked, created = exact
    after = per_node(run.owner)
    print(f"fleet: {run.args.nodes} nodes, {len(run.web_rids)} rooms x {run.args.rate:g} msg/s,")
    print(f"  {run.args.pollers} long-pollers, {run.args.seconds:g} s; " + "; ".join(run.events))
    print(f"  rooms per node before the kill: {before}; after: {after}")
    print(f"  takeover: {took:.1f} s" if took is not None else "  takeover: not complete")
    print(f"  exactness: {lost} lost, {dup} duplicated of {checked} messages checked")
    stored_ms = stored_at(run.db)
    collect = sorted((stored_ms[m] - created[m]) / 1000 for m in stored_ms if m in created)
    print(
        f"  emit→store (upstream, collector, writer queue): p50 {pct(collect, 0.5) * 1000:.0f} ms,"
        f" p99 {pct(collect, 0.99) * 1000:.0f} ms over {len(collect)} stored messages"
    )
    for label, via in (("through a non-owner", False), ("through the owner", True)):
        lat = sorted(
            t - created[m] / 1000 for m, t, o in run.delivered if o is via and m in created
        )
        wake = sorted(
            t - stored_ms[m] / 1000 for m, t, o in run.delivered if o is via and m in stored_ms
        )
        print(
            f"  emit→delivery {label}: {len(lat)} deliveries, p50 {pct(lat, 0.5) * 1000:.0f} ms,"
            f" p99 {pct(lat, 0.99) * 1000:.0f} ms; store→delivery (commit + wake-up + read)"
            f" p50 {pct(wake, 0.5) * 1000:.0f} ms, p99 {pct(wake, 0.99) * 1000:.0f} ms"
        )
    for n in run.nodes:
        cpu = [c for c, _ in n.samples]
        rss = [r for _, r in n.samples]
        state = "killed" if n.proc.poll() is not None else "alive"
        print(
            f"  {n.node_id} ({state}): CPU mean {statistics.fmean(cpu or [0]):.0f} %"
            f" (max {max(cpu or [0]):.0f} %), RSS last {rss[-1] if rss else 0:.0f} MB"
            f" (max {max(rss or [0]):.0f} MB)"
        )


async def nats_messages(args: argparse.Namespace) -> int:
    from dylive.deliver.nats import stream_info

    try:
        return int((await stream_info(args.sink))["messages"])
    except Exception:  # not created yet
        return 0


async def nats_check(run: Run) -> None:
    """End every room upstream, wait until the nodes stored and published everything, then
    compare the stream's message count with the stored count (each once: equal)."""
    async with httpx.AsyncClient(base_url=run.sim_url, timeout=30) as client:
        for web_rid in run.web_rids:
            await client.post(f"/__sim/rooms/{web_rid}/end")
    deadline = time.monotonic() + 90
    last = (-1, -1)
    while time.monotonic() < deadline:
        now = (sum(map(len, stored(run.db).values())), await nats_messages(run.args))
        if now == last and now[0] == now[1]:
            break
        last = now
        await asyncio.sleep(3)
    stored_total, streamed = last
    print(
        f"  NATS stream after the rooms ended: {streamed} messages, {stored_total} stored in"
        f" PostgreSQL ({'equal' if streamed == stored_total else 'NOT equal'})"
    )


async def delete_stream(url: str) -> None:
    import nats

    from dylive.deliver.nats import NatsTarget

    target = NatsTarget.parse(url)
    nc = await nats.connect(target.server)
    try:
        await nc.jetstream().delete_stream(target.stream)
    except Exception as exc:
        print(f"  (could not delete stream {target.stream}: {exc})")
    finally:
        await nc.close()


async def main(args: argparse.Namespace) -> None:
    name = "dylive_bench_" + uuid.uuid4().hex[:10]
    admin = psycopg.connect(ADMIN_URL, autocommit=True)
    admin.execute(f"CREATE DATABASE {name}")
    db = ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    sim: subprocess.Popen[bytes] | None = None
    run: Run | None = None
    try:
        sim_port = free_port()
        sim = spawn("sim", "--port", str(sim_port), "--rate", str(args.rate), "--seed", "5")
        run = await measure(args, db, sim, sim_port)
        print(f"  PostgreSQL durable fenced ingest burst: {await ingest_burst(db):,.0f} msg/s")
    finally:
        for n in run.nodes if run else []:
            stop(n.proc)
        if sim is not None:
            stop(sim)
        if args.sink:
            await delete_stream(args.sink)
        admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.close()


async def measure(
    args: argparse.Namespace, db: str, sim: subprocess.Popen[bytes], sim_port: int
) -> Run:
    """Start the nodes, pin, poll, kill, report; the nodes are stopped before returning."""
    await wait_listening(sim_port, sim)
    sim_url = f"http://127.0.0.1:{sim_port}"
    web_rids = [str(710_000_000_000 + i) for i in range(args.rooms)]
    async with httpx.AsyncClient(base_url=sim_url, timeout=30) as client:
        for web_rid in web_rids:
            (await client.post("/__sim/rooms", json={"web_rid": web_rid})).raise_for_status()
        for r in orjson.loads((await client.get("/__sim/rooms")).content):
            if r["web_rid"] not in web_rids and r["live"]:
                await client.post(f"/__sim/rooms/{r['web_rid']}/end")
    token = subprocess.run(
        [sys.executable, "-m", "dylive", "token", "create", "--db", db, "--name", "bench",
         "--room-limit", "0"],
        check=True, capture_output=True,
    ).stdout.decode().split()[-1]  # fmt: skip
    run = Run(args, db, sim_url, token, web_rids)
    try:
        await start_nodes(run)
        started = time.monotonic()
        await pin_all(run)
        run.events.append(f"all rooms collecting {time.monotonic() - started:.1f} s after pinning")
        until = time.time() + args.seconds
        pollers = random.Random(1).sample(web_rids, min(args.pollers, len(web_rids)))
        tasks = [
            long_poll(run, run.nodes[i % len(run.nodes)], w, until) for i, w in enumerate(pollers)
        ]
        t0 = time.monotonic()
        count0 = sum(map(len, stored(db).values()))
        nats0 = await nats_messages(args) if args.sink else 0
        cpu0 = (cpu_seconds(sim.pid), cpu_seconds(os.getpid()))
        watched = asyncio.gather(watch(run, until), *tasks)
        (before, took), *_ = await asyncio.wait_for(watched, args.seconds + 60)
        elapsed = time.monotonic() - t0
        count1 = sum(map(len, stored(db).values()))
        nats1 = await nats_messages(args) if args.sink else 0
        sim_cpu, own_cpu = (
            100 * (b - a) / elapsed
            for a, b in zip(cpu0, (cpu_seconds(sim.pid), cpu_seconds(os.getpid())), strict=True)
        )
        report(run, before, took, await exactness(run))
        print(f"  observed ingest: {(count1 - count0) / elapsed:,.0f} msg/s (the offered load)")
        print(
            f"  simulator CPU {sim_cpu:.0f} %, this process (the long-pollers) {own_cpu:.0f} %"
            f" of a core; load average {os.getloadavg()[0]:.1f} at the end"
        )
        print(
            f"  PostgreSQL bytes per stored message (table + indexes): {bytes_per_message(db):,.0f}"
        )
        if args.sink:
            print(
                f"  NATS publish rate: {(nats1 - nats0) / elapsed:,.0f} msg/s over the same window"
            )
            await nats_check(run)
    finally:
        for n in run.nodes:
            stop(n.proc)
    return run


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="fleet benchmark (PostgreSQL, subprocess nodes)")
    parser.add_argument("--rooms", type=int, default=300)
    parser.add_argument("--rate", type=float, default=5.0, help="messages/s per room")
    parser.add_argument("--pollers", type=int, default=100)
    parser.add_argument("--nodes", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=120.0, help="measured seconds")
    parser.add_argument("--kill-at", type=float, default=60.0, help="SIGKILL the busiest node")
    parser.add_argument(
        "--sink", default="", help="nats://host:port?stream=S&prefix=P: publish to JetStream"
    )
    asyncio.run(main(parser.parse_args()))

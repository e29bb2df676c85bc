# ruff: noqa: ASYNC110, ASYNC220  (a benchmark driver: blocking setup calls are fine here)
"""Delivery benchmarks; prints figures (no assertions).

(w) webhooks: the simulator (subprocess) with ``--rooms`` rooms × ``--rate`` messages/s →
    ``dylive serve`` (subprocess, rooms pinned, SQLite) → ``--hooks`` webhooks (each following
    rooms/hooks rooms, or every room with ``--all-rooms``) → one local receiver in its own process
    (bench/receiver.py: acknowledges at once, or fails ``--fail`` of the requests with 503 and
    answers after ``--latency`` seconds). Prints delivered/stored (every message stored during
    the run, per webhook following its room), latency from storage to the receiver's
    acknowledgement (p50/p99, first arrival), duplicates acknowledged, requests and failures,
    service CPU and RSS, µs of service CPU per message acknowledged in the window (collection
    and storage included), the receiver's CPU; ``--profile FILE`` adds a py-spy summary.
(f) WebSocket feed: the same pipeline with ``--clients`` feed clients spread over the rooms (in
    ``--client-procs`` processes of their own, 32 per token: the feed quota); prints messages/s
    fanned out, storage → client latency p50/p99, slow closes, service CPU and RSS, the clients'
    CPU.
(p) one webhook POST, side by side in one run: ``--posts`` signed batches of 10 messages sent
    by the webhook sink (deliver/http_post.py, kept-alive connections) and the same requests
    through httpx (what the sink used before), 20 at a time, to the receiver process; prints µs
    of this process's CPU per request for each and their ratio.

Usage: ``python bench/delivery.py [w] [f] [p] [--rooms 100 --rate 10 --hooks 5 --all-rooms
--clients 1000 --seconds 20]``. Latencies use the store's ``stored_at`` (read from the database afterwards) and
this machine's clock. Every child process is terminated (SIGKILL after 5 s).
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "tests"))
from api import free_port, rss_mb, spawn, stop, wait_listening  # noqa: E402
from profiling import attach, detach, summary  # noqa: E402

SECRET = "bench-secret-0123456789"


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / 100  # utime, stime in clock ticks (USER_HZ=100)


def stored_rows(db: str, since_ms: int, until_ms: int) -> dict[int, tuple[int, int]]:
    """msg_id → (room_id, stored_at) of the messages stored in [since, until)."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        rows = conn.execute(
            "SELECT msg_id, room_id, stored_at FROM events WHERE stored_at >= ? AND stored_at < ?",
            (since_ms, until_ms),
        ).fetchall()
    finally:
        conn.close()
    u64 = 1 << 64
    return {(m + u64 if m < 0 else m): (r + u64 if r < 0 else r, s) for m, r, s in rows}


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))] if ordered else float("nan")


class Pipeline:
    """Simulator + ``dylive serve`` subprocesses with ``rooms`` pinned rooms."""

    def __init__(self, tmp: str, rooms: int, rate: float, tokens: int = 1) -> None:
        self.db = str(Path(tmp) / "d.sqlite3")
        self.web_rids = [str(710_000_000_000 + i) for i in range(rooms)]
        self.rate = rate
        self.sim_port, self.api_port = free_port(), free_port()
        self.sim: subprocess.Popen[bytes] | None = None
        self.serve: subprocess.Popen[bytes] | None = None
        self.token = ""
        self.count = tokens
        self.tokens: list[str] = []

    async def __aenter__(self) -> Pipeline:
        from dylive.serve import tokens
        from dylive.store import open_store

        async with open_store(self.db) as store:  # no room limit, no rate limit
            for i in range(self.count):
                self.tokens.append(await tokens.create(store, f"b{i}", room_limit=0, rate=0))
        self.token = self.tokens[0]
        self.sim = spawn("sim", "--port", str(self.sim_port), "--rate", str(self.rate))
        await wait_listening(self.sim_port, self.sim)
        sim_url = f"http://127.0.0.1:{self.sim_port}"
        async with httpx.AsyncClient(base_url=sim_url, timeout=30) as client:
            for web_rid in self.web_rids:
                (await client.post("/__sim/rooms", json={"web_rid": web_rid})).raise_for_status()
        pins = [arg for w in self.web_rids for arg in ("--room", w)]
        self.serve = spawn(
            "serve", "--db", self.db, "--upstream", sim_url, "--port", str(self.api_port),
            "--signing", "off", "--no-ranklist", "--allow-private-webhooks", *pins,
        )  # fmt: skip
        await wait_listening(self.api_port, self.serve, within=300)
        await asyncio.sleep(5.0)  # collectors connect
        return self

    async def __aexit__(self, *exc: object) -> None:
        for proc in (self.serve, self.sim):
            if proc is not None:
                stop(proc)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def pid(self) -> int:
        assert self.serve is not None
        return self.serve.pid


def report_service(pipe: Pipeline, cpu0: float, seconds: float) -> str:
    rss, peak = rss_mb(pipe.pid)
    cpu = (cpu_seconds(pipe.pid) - cpu0) / seconds
    return f"service CPU {cpu * 100:.0f}% of one core, RSS {rss:.0f} MB (peak {peak:.0f} MB)"


# -- (w) webhooks ----------------------------------------------------------------------------------
class ReceiverProcess:
    """bench/receiver.py in its own process; :meth:`acks` reads what it acknowledged so far."""

    def __init__(self, tmp: str, fail: float, latency: float) -> None:
        self.out = Path(tmp) / "acks.jsonl"
        self.args = ["--secret", SECRET, "--out", str(self.out)]
        self.args += ["--fail", str(fail), "--latency", str(latency)]
        self.proc: subprocess.Popen[bytes] | None = None
        self.url = ""
        self.stats: dict[str, int] = {}

    async def __aenter__(self) -> ReceiverProcess:
        cmd = [sys.executable, str(ROOT / "bench" / "receiver.py"), *self.args]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        assert self.proc.stdout is not None
        port = int(await asyncio.to_thread(self.proc.stdout.readline))
        self.url = f"http://127.0.0.1:{port}/hook"
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop the receiver (it writes its request counts last)."""
        if self.proc is not None:
            stop(self.proc)
            self.proc = None
            self.acks()

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def acks(self) -> list[tuple[float, int, list[int]]]:
        """(time acknowledged, webhook_id, msg_ids) of every acknowledged request so far."""
        out: list[tuple[float, int, list[int]]] = []
        for line in self.out.read_bytes().splitlines():
            item = orjson.loads(line)
            if isinstance(item, dict):
                self.stats = item
            else:
                out.append((item[0], item[1], item[2]))
        return out


async def wait_pins(pipe: Pipeline) -> None:
    """Until no pinned room is still starting (pins start in the background), then 5 s more."""
    async with httpx.AsyncClient(base_url=pipe.base, timeout=60) as client:
        for _ in range(int((60 + 3 * len(pipe.web_rids)) / 2.0)):
            resp = await client.get("/api/rooms", params={"token": pipe.token})
            states = resp.json()["data"]["rooms"]
            if states and not any(r.get("state") == "starting" for r in states):
                break
            await asyncio.sleep(2.0)
    await asyncio.sleep(5.0)  # collectors connect


async def webhooks(tmp: str, args: argparse.Namespace) -> None:
    async with (
        Pipeline(tmp, args.rooms, args.rate) as pipe,
        ReceiverProcess(tmp, args.fail, args.latency) as rx,
    ):
        await wait_pins(pipe)
        hooks: dict[int, list[str]] = {}
        async with httpx.AsyncClient(base_url=pipe.base, timeout=300) as client:
            for h in range(args.hooks):
                rooms = pipe.web_rids if args.all_rooms else pipe.web_rids[h :: args.hooks]
                body = {"url": rx.url, "secret": SECRET, "rooms": rooms, "methods": ["all"]}
                resp = await client.post("/api/webhooks", params={"token": pipe.token}, json=body)
                resp.raise_for_status()
                hooks[resp.json()["data"]["id"]] = rooms
        start_ms = int(time.time() * 1000) + 1000  # webhooks created: measure from here
        await asyncio.sleep(1.0)
        spy = attach(pipe.pid, args.profile) if args.profile else None
        cpu0, rx_cpu0, t0 = cpu_seconds(pipe.pid), cpu_seconds(rx.pid), time.time()
        await asyncio.sleep(args.seconds)
        end_ms = int(time.time() * 1000)
        service = report_service(pipe, cpu0, args.seconds)
        cpu_s = cpu_seconds(pipe.pid) - cpu0
        rx_cpu = (cpu_seconds(rx.pid) - rx_cpu0) / args.seconds
        detach(spy)
        stored = stored_rows(pipe.db, start_ms, end_ms)
        room_ids = {w: rid for w, rid in await _room_ids(pipe)}
        expected = {
            (hook_id, msg_id)
            for hook_id, rooms in hooks.items()
            for msg_id, (room_id, _) in stored.items()
            if room_id in {room_ids[w] for w in rooms if w in room_ids}
        }
        deadline = time.time() + 60  # drain: deliveries still in flight or being retried
        while time.time() < deadline and not expected <= _acked(rx.acks()):
            await asyncio.sleep(0.5)
        rx.close()
        acks = rx.acks()
    acked = _acked(acks)
    firsts: dict[tuple[int, int], float] = {}
    total = 0
    for t, hook_id, ids in acks:
        total += len(ids)
        for msg_id in ids:
            firsts.setdefault((hook_id, msg_id), t)
    lat = [firsts[k] - stored[k[1]][1] / 1000 for k in expected if k in firsts]
    got = len(expected & acked)
    in_window = sum(len(ids) for t, _, ids in acks if t0 <= t < end_ms / 1000)
    print(
        f"(w) {args.rooms} rooms x {args.rate:g} msg/s for {args.seconds:g} s, {args.hooks} webhooks"
        f" ({'every room each' if args.all_rooms else f'{args.rooms // args.hooks} rooms each'}),"
        f" receiver (own process) {args.fail:.0%} failures + {args.latency * 1000:.0f} ms:"
        f" stored {len(stored)}, to deliver {len(expected)}, delivered {got}"
        f" ({got / max(1, len(expected)):.2%}); latency stored→acked p50"
        f" {statistics.median(lat) * 1000 if lat else float('nan'):.0f} ms,"
        f" p99 {pct(lat, 0.99) * 1000:.0f} ms; duplicates acked {total - len(firsts)};"
        f" requests {rx.stats.get('requests')} ({rx.stats.get('failed')} failed,"
        f" {rx.stats.get('bad')} bad signatures); "
        + service
        + f"; {cpu_s * 1e6 / max(1, in_window):.0f} µs of service CPU per delivered message;"
        f" receiver CPU {rx_cpu * 100:.0f}%"
    )
    if args.profile:
        print(summary(args.profile, title="(w) service"))


def _acked(acks: list[tuple[float, int, list[int]]]) -> set[tuple[int, int]]:
    return {(hook_id, msg_id) for _, hook_id, ids in acks for msg_id in ids}


async def _room_ids(pipe: Pipeline) -> list[tuple[str, int]]:
    async with httpx.AsyncClient(base_url=pipe.base, timeout=60) as client:
        resp = await client.get("/api/rooms", params={"token": pipe.token})
        return [(r["web_rid"], int(r["room_id"])) for r in resp.json()["data"]["rooms"]]


# -- (f) the WebSocket feed ------------------------------------------------------------------------
async def feed_client(url: str, until: float, out: list[tuple[int, float]]) -> None:
    from websockets.asyncio.client import connect

    async with connect(url, max_size=None, open_timeout=60) as ws:
        while (left := until - time.time()) > 0:
            try:
                async with asyncio.timeout(left):
                    frame = orjson.loads(await ws.recv())
            except TimeoutError:
                return
            now = time.time()
            out.extend((m["msg_id"], now) for m in frame.get("messages", ()))


def clients_process(
    urls: list[str], start: float, until: float
) -> tuple[list[tuple[int, float]], list[str]]:
    """Feed clients in a process of their own: (msg_id, arrival) from ``start`` on, failures."""

    async def run() -> tuple[list[tuple[int, float]], list[str]]:
        received: list[tuple[int, float]] = []
        results = await asyncio.gather(
            *(feed_client(u, until, received) for u in urls), return_exceptions=True
        )
        failures = [
            f"{type(r).__name__}: {str(r)[:80]}" for r in results if isinstance(r, BaseException)
        ]
        return [(m, t) for m, t in received if t >= start], failures

    return asyncio.run(run())


async def feed(tmp: str, args: argparse.Namespace) -> None:
    per_token = 32  # serve/feed_quota.py: MAX_FEEDS_PER_TOKEN
    tokens = -(-args.clients // per_token)
    async with Pipeline(tmp, args.rooms, args.rate, tokens) as pipe:
        await wait_pins(pipe)
        ws_base = pipe.base.replace("http://", "ws://")
        urls = [
            f"{ws_base}/api/rooms/{pipe.web_rids[c % args.rooms]}/ws"
            f"?token={pipe.tokens[c % tokens]}&methods=all"
            for c in range(args.clients)
        ]
        start = time.time() + 15  # connecting 1,000 clients takes a while
        until = start + args.seconds
        procs = max(1, args.client_procs)
        context = multiprocessing.get_context("spawn")
        loop = asyncio.get_running_loop()
        with ProcessPoolExecutor(procs, mp_context=context) as pool:
            parts = [
                loop.run_in_executor(pool, clients_process, urls[i::procs], start, until)
                for i in range(procs)
            ]
            await asyncio.sleep(max(0.0, start - time.time()))
            spy = attach(pipe.pid, args.profile) if args.profile else None
            cpu0, cpus0 = cpu_seconds(pipe.pid), [cpu_seconds(p) for p in pool._processes]
            await asyncio.sleep(max(0.0, until - time.time()))
            seconds = time.time() - start  # the window (the clients end soon after it)
            service = report_service(pipe, cpu0, seconds)
            cpus = [cpu_seconds(p) for p in pool._processes]
            detach(spy)
            results = await asyncio.gather(*parts)
        async with httpx.AsyncClient(base_url=pipe.base, timeout=30) as client:
            metrics = (await client.get("/metrics")).text
        stored = stored_rows(pipe.db, 0, 2**62)
    window = [(m, t) for got, _ in results for m, t in got if t < until]
    lat = [t - stored[m][1] / 1000 for m, t in window if m in stored]
    errors = Counter(e for _, failures in results for e in failures)
    failed = sum(errors.values())
    client_cpu = (sum(cpus) - sum(cpus0)) / seconds
    slow = [ln for ln in metrics.splitlines() if ln.startswith("dylive_feed_slow_closed_total")]
    print(
        f"(f) {args.clients} WebSocket clients on {args.rooms} rooms x {args.rate:g} msg/s:"
        f" {len(window) / seconds:,.0f} messages/s fanned out over {seconds:.0f} s; latency"
        f" stored→client p50 {statistics.median(lat) * 1000 if lat else float('nan'):.0f} ms,"
        f" p99 {pct(lat, 0.99) * 1000:.0f} ms; clients failed {failed}; {' '.join(slow)}; "
        + service
        + f"; the clients ({procs} processes) {client_cpu * 100:.0f}% of a core"
    )
    if args.profile:
        print(summary(args.profile, title="(f) service"))
    for error, count in errors.most_common(3):
        print(f"    {count} clients: {error}")


# -- (p) one webhook POST: the sink's client vs httpx -----------------------------------------------
async def posts(tmp: str, args: argparse.Namespace) -> None:
    from dylive.deliver.http_post import Poster
    from dylive.deliver.outbox import Batch
    from dylive.deliver.webhook_sink import WebhookSink
    from dylive.store import StoredMessage

    rendered = b'{"method":"WebcastChatMessage","msg_id":%d,"content":"hello there"}'
    messages = [
        StoredMessage(i, 77, i, "WebcastChatMessage", 1, 2, rendered % i) for i in range(10)
    ]
    batch = Batch("webhook:1", 77, messages, 10, "77-0-10")
    async with ReceiverProcess(tmp, 0.0, 0.0) as rx:
        async with Poster(10) as poster:
            sink = WebhookSink(1, rx.url, SECRET, poster, allow_private=True)
            lean = await _per_request(lambda: sink.send(batch), args.posts)
        async with httpx.AsyncClient(timeout=10, trust_env=False) as client:
            legacy = await _per_request(
                lambda: _httpx_post(client, rx.url, sink, batch), args.posts
            )
        rx.close()
        got = len(rx.acks())
    print(
        f"(p) {args.posts} webhook POSTs of 10 messages each way, 20 at a time ({got} acknowledged):"
        f" the sink's client {lean:.0f} µs of CPU per request, httpx {legacy:.0f} µs"
        f" (ratio {legacy / lean:.1f})"
    )


async def _per_request(send: Callable[[], Awaitable[None]], count: int) -> float:
    async def worker(n: int) -> None:
        for _ in range(n):
            await send()

    await asyncio.gather(*(worker(5) for _ in range(20)))  # warm: connections open
    cpu0 = time.process_time()
    await asyncio.gather(*(worker(count // 20) for _ in range(20)))
    return (time.process_time() - cpu0) * 1e6 / (count // 20 * 20)


async def _httpx_post(client: httpx.AsyncClient, url: str, sink: Any, batch: Any) -> None:
    """The same signed request as the sink's, sent the way the sink sent it before (httpx)."""
    from dylive.deliver.webhook_sink import sign, standard_id, standard_signature, webhook_body

    now_ms = time.time_ns() // 1_000_000
    body = webhook_body(1, batch, now_ms)
    msg_id = standard_id(1, batch)
    headers = {
        "Content-Type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(now_ms // 1000),
        "webhook-signature": standard_signature([SECRET], msg_id, now_ms // 1000, body),
        "X-Dylive-Signature": sign(SECRET, body),
    }
    request = client.build_request("POST", url, content=body, headers=headers)
    response = await client.send(request, stream=True, follow_redirects=False)
    try:
        async for _ in response.aiter_raw():
            pass
    finally:
        await response.aclose()
    response.raise_for_status()


async def main(args: argparse.Namespace) -> None:
    parts = args.parts or ["w", "f"]
    if "p" in parts:
        with tempfile.TemporaryDirectory() as tmp:
            await posts(tmp, args)
    with tempfile.TemporaryDirectory() as tmp:
        if "w" in parts:
            await webhooks(tmp, args)
    with tempfile.TemporaryDirectory() as tmp:
        if "f" in parts:
            await feed(tmp, args)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="delivery benchmarks")
    parser.add_argument("parts", nargs="*", help="w, f, p (default: w and f)")
    parser.add_argument("--rooms", type=int, default=100)
    parser.add_argument("--rate", type=float, default=10.0, help="messages/s per room")
    parser.add_argument("--hooks", type=int, default=5)
    parser.add_argument("--all-rooms", action="store_true", help="each webhook follows every room")
    parser.add_argument("--fail", type=float, default=0.0, help="receiver failure fraction")
    parser.add_argument("--latency", type=float, default=0.0, help="receiver latency (s)")
    parser.add_argument("--profile", default="", help="py-spy the service into this raw file")
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--client-procs", type=int, default=2, help="processes of feed clients")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--posts", type=int, default=4000, help="requests each way in (p)")
    asyncio.run(main(parser.parse_args()))

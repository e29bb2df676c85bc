"""Analytics benchmark: a long broadcast through the store and the session aggregates, on SQLite
and PostgreSQL side by side; prints figures and ratios (no assertions).

The broadcast is the simulator's script run offline (``dylive.sim.offline``): ``--hours`` at
``--rate`` messages/s (default 3 h × 20 msg/s ≈ 216,000 messages), rendered and stored exactly as
the collector stores them, appended in batches of 200.

(1) ingest: messages/s appended without analytics, then with the analytics hook on (the service's
    ``Analytics.notify`` after every batch, its worker folding and checkpointing concurrently);
    "caught up" is the time until the aggregates cover the last row. Alternated, best of two.
(2) running report: ``GET /api/sessions/{id}/report``'s work for the live session — warm (the
    service's in-memory aggregates) and cold (another process: checkpoint + catch-up).
(3) finished report: after the closing ControlMessage, the stored report (served as stored).
(4) Parquet export of the whole broadcast: messages/s (median of three exports) and its ratio to
    the target, the CPU seconds of this process per message (every thread: the store's reader,
    Arrow's pool; on PostgreSQL the server's own CPU is not in it), and beside it the store's
    bulk read alone (Arrow pages or ``scan_columns`` over the same pages: the part no export can
    skip). The rows are read once before (their first read sets hint bits on PostgreSQL).
    ``--baseline PATH``: another tree's ``analytics/parquet.py`` (e.g. main's), loaded beside
    this one and exported alternately with it (this, baseline, this, …), each with its median.

PostgreSQL runs in a fresh schema of ``DYLIVE_BENCH_POSTGRES`` (default
``postgresql://postgres@127.0.0.1:5432/test``), dropped afterwards.

Usage: ``python bench/report.py [--hours H] [--rate R] [--messages N] [--steps abcd]
[--backend sqlite|postgres|both] [--baseline PATH]``: ``--messages`` sizes the broadcast by its
message count instead of ``--hours`` (shorter runs while iterating); ``--steps d`` stores the
broadcast once (no analytics) and runs the export alone.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.util
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import orjson
from pgtemp import fresh_schema

from dylive.analytics import Analytics
from dylive.analytics.parquet import export_parquet
from dylive.decode import GiftLedger, decode, render
from dylive.decode.events import GiftEvent
from dylive.sim.offline import broadcast
from dylive.store import EventStore, Record, RoomRecord, open_store
from dylive.wire.frames import RawMessage

ADMIN_URL = os.environ.get("DYLIVE_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
ROOM_ID = 7439018246715328306
WEB_RID = "80017709309"
BATCH = 200
EXPORT_TARGET = 200_000  # msg/s
ExportFn = Callable[[EventStore, int, Path], Awaitable[int]]


def make_records(hours: float, rate: float) -> list[Record]:
    """The broadcast as store records (rendered with the ledger's delta, as the collector does)."""
    entries = broadcast(WEB_RID, ROOM_ID, int(hours * 3600), rate=rate, seed=7)
    ledger = GiftLedger()
    out = []
    for e in entries:
        event = decode(RawMessage(e.method, e.msg_id, e.payload or b""), room_id=ROOM_ID)
        if isinstance(event, GiftEvent):
            event = ledger.apply(event)
        rendered = orjson.dumps(render(event))
        out.append(Record(ROOM_ID, e.msg_id, e.method, e.created_at, rendered, e.payload or b""))
    return out


@contextlib.asynccontextmanager
async def fresh_store(backend: str, tmp: Path) -> AsyncIterator[EventStore]:
    if backend == "sqlite":
        store = open_store(str(tmp / f"{uuid.uuid4().hex}.db"))
        async with store:
            yield store
        return
    with fresh_schema(ADMIN_URL) as schema:
        async with open_store(schema.url) as store:
            yield store


async def ingest(store: EventStore, records: list[Record], analytics: Analytics | None) -> float:
    await store.upsert_room(RoomRecord(ROOM_ID, WEB_RID, 2, title="bench", anchor_nickname="a"))
    started = time.perf_counter()
    for i in range(0, len(records), BATCH):
        inserted = await store.append(records[i : i + BATCH])
        if analytics is not None and inserted:
            analytics.notify(ROOM_ID)
    return time.perf_counter() - started


async def timed(coro_fn: Callable[[], Awaitable[None]], runs: int) -> float:
    """Median seconds of ``runs`` calls of ``coro_fn()``."""
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        await coro_fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


async def ingest_figures(backend: str, tmp: Path, records: list[Record]) -> None:
    best = {"off": 0.0, "on": 0.0, "caught": 0.0}
    for _ in range(2):
        async with fresh_store(backend, tmp) as store:
            elapsed = await ingest(store, records, None)
            best["off"] = max(best["off"], len(records) / elapsed)
        async with fresh_store(backend, tmp) as store:
            analytics = Analytics(store)
            started = time.perf_counter()
            elapsed = await ingest(store, records, analytics)
            best["on"] = max(best["on"], len(records) / elapsed)
            while analytics.folded < len(records):  # noqa: ASYNC110 (polls a counter)
                await asyncio.sleep(0.01)
            caught = time.perf_counter() - started
            best["caught"] = max(best["caught"], len(records) / caught)
            await analytics.close()
    print(
        f"  ingest without analytics   {best['off']:>10,.0f} msg/s\n"
        f"  ingest with analytics on   {best['on']:>10,.0f} msg/s"
        f"   ratio {best['on'] / best['off']:.3f} (target >= 0.90)\n"
        f"  ... until aggregates caught up {best['caught']:>6,.0f} msg/s"
        f"   ratio {best['caught'] / best['off']:.3f}"
    )


async def finished(store: EventStore, sid: int) -> bool:
    session = await store.get_session(session_id=sid)
    return session is not None and bool(session.ended_at and session.report)


async def report_figures(backend: str, tmp: Path, records: list[Record]) -> None:
    async with fresh_store(backend, tmp) as store:
        analytics = Analytics(store)
        await ingest(store, records[:-1], analytics)  # running: no closing ControlMessage yet
        while analytics.folded < len(records) - 1:  # noqa: ASYNC110 (polls a counter)
            await asyncio.sleep(0.01)
        await analytics.flush()
        sid = (await store.list_sessions(web_rid=WEB_RID))[0].id

        async def warm() -> None:
            orjson.dumps(await analytics.report(sid))

        async def cold() -> None:
            orjson.dumps(await Analytics(store).report(sid))

        print(
            f"  running report, warm       {await timed(warm, 20) * 1000:>10.1f} ms (target < 200)"
        )
        print(f"  running report, cold       {await timed(cold, 5) * 1000:>10.1f} ms")
        await store.append(records[-1:])
        analytics.notify(ROOM_ID)
        while not await finished(store, sid):  # noqa: ASYNC110 (polls the store)
            await asyncio.sleep(0.01)
        print(
            f"  finished report (stored)   {await timed(cold, 20) * 1000:>10.1f} ms (target < 50)"
        )
        await analytics.close()


async def bulk_read(store: EventStore) -> int:
    """One pass of the store's bulk read over the room (what the export reads); messages."""
    after, read = 0, 0
    reader = store.arrow_pages()
    if reader is None:
        while (page := await store.scan_columns(ROOM_ID, after, 50_000)).size:
            after, read = page.last_seq, read + page.size
        return read
    async with reader:
        while (table := await reader.read(ROOM_ID, after, 50_000)).num_rows:
            after, read = table.column("seq")[-1].as_py(), read + table.num_rows
    return read


def load_baseline(path: str) -> ExportFn:
    """``export_parquet`` of another tree's ``analytics/parquet.py`` (``--baseline``), loaded
    beside this tree's as a module of its own (it uses this tree's store)."""
    spec = importlib.util.spec_from_file_location("baseline_parquet", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    fn: ExportFn = module.export_parquet
    return fn


async def export_figures(
    backend: str, tmp: Path, records: list[Record], baseline: ExportFn | None
) -> None:
    async with fresh_store(backend, tmp) as store:
        await ingest(store, records, None)
        await bulk_read(store)  # warm: the rows' first read is not the export's (hint bits)
        out = tmp / "bench.parquet"
        trees: dict[str, ExportFn] = {"this tree": export_parquet}
        if baseline is not None:
            trees["baseline"] = baseline
        runs: dict[str, list[tuple[float, float]]] = {name: [] for name in trees}
        for _ in range(3):  # alternated: this tree, the baseline, this tree, …
            for name, export in trees.items():
                cpu, started = time.process_time(), time.perf_counter()
                count = await export(store, ROOM_ID, out)
                runs[name].append((time.perf_counter() - started, time.process_time() - cpu))
        size = out.stat().st_size
        started = time.perf_counter()
        read = await bulk_read(store)
        bare = read / (time.perf_counter() - started)
        for name in trees:
            elapsed = statistics.median(r[0] for r in runs[name])
            cpu_s = statistics.median(r[1] for r in runs[name])
            rate = count / elapsed
            every = ", ".join(f"{count / r[0]:,.0f}" for r in runs[name])
            print(
                f"  Parquet export ({name:9}) {rate:>10,.0f} msg/s"
                f"   ratio {rate / EXPORT_TARGET:.2f} (target >= {EXPORT_TARGET:,})"
                f" ({count:,} messages, {size / 1e6:.1f} MB; runs {every})\n"
                f"  ... CPU of this process    {cpu_s / count * 1e6:>10.2f} us/msg"
            )
        print(
            f"  ... the store's bulk read  {bare:>10,.0f} msg/s"
            f" ({'Arrow pages' if store.arrow_pages() else 'JSON aggregates'})"
        )


async def run(args: argparse.Namespace) -> None:
    started = time.perf_counter()
    hours = args.messages / args.rate / 3600 if args.messages else args.hours
    records = make_records(hours, args.rate)
    print(
        f"broadcast: {hours:.3g} h at {args.rate} msg/s -> {len(records):,} messages"
        f" (generated in {time.perf_counter() - started:.1f} s)"
    )
    backends = ("sqlite", "postgres") if args.backend == "both" else (args.backend,)
    baseline = load_baseline(args.baseline) if args.baseline else None
    with tempfile.TemporaryDirectory() as tmp:
        for backend in backends:
            print(f"{backend}:  (load average {os.getloadavg()[0]:.1f})")
            if "a" in args.steps:
                await ingest_figures(backend, Path(tmp), records)
            if {"b", "c"} & set(args.steps):
                await report_figures(backend, Path(tmp), records)
            if "d" in args.steps:
                await export_figures(backend, Path(tmp), records, baseline)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=float, default=3.0)
    parser.add_argument("--rate", type=float, default=20.0)
    parser.add_argument("--messages", type=int, default=0, help="instead of --hours")
    parser.add_argument("--steps", default="abcd", help="which of a b c d to run")
    parser.add_argument("--backend", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument(
        "--baseline", help="another tree's src/dylive/analytics/parquet.py, exported alternately"
    )
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()

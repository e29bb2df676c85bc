"""Analytics checkpoint benchmark: what one checkpoint of a long, big session costs, by its size.

A session of ``N`` distinct chatters (``--chatters``, default 10k, 100k and 1M), ``N / 20``
gifters and 240 minutes is folded through :class:`~dylive.analytics.tally.SessionTally` into an
SQLite store (``Analytics`` of this tree, the service's ``_save``), checkpointed once (the first
checkpoint writes what the session holds), then ``--rounds`` times: the folds of a busy room's
2 s (``--new`` new chatters, as many known ones chatting again, ``--gifts`` gifts) and one
checkpoint, measured:

- loop ms: CPU of the event loop thread from the start of the checkpoint to its commit (the
  state's serialization, the store call; what every other room on the loop waits for);
- process ms: CPU of the whole process over the same span (the SQLite writer thread too);
- load ms: CPU of the loop thread to load the session in a new ``Analytics`` (a restart);
- bytes: what the process passed to ``write()`` meanwhile (``wchar`` of ``/proc/self/io``: the
  WAL frames of the commit, and a WAL checkpoint's copy when one falls in the span), and the
  checkpoint's payload (the session row's state plus the new part, when the tree has parts).

Medians over the rounds. ``--long N``: one long session instead (``--chatters`` to start with,
then N checkpoints of the same 2 s folds: 21,600 is 12 hours of a busy room), reporting the
checkpoints' loop ms (median, mean: the amortised cost with the compactions, max: the longest
one), the parts the session keeps at its end (count and bytes) and the load of the session
after it (loop ms, and wall ms: the store's fetch of the parts too). ``--compaction N``: for each
``--chatters``, a session whose compaction is due at once (a first part of 100 chatters, then
one holding the rest: the parts after the whole one cost more to load than it), then N
checkpoints of the same 2 s folds: the longest single checkpoint's loop ms (what the compaction
costs the loop where it is written: in one part, or over the slices of a staged one), the
median, how many checkpoints carried it (compacting; ``-`` in a tree without stages), the
parts at the end and the load. ``--end N``: the same session after N of those checkpoints (a
stage in progress), then its end: the longest span of the loop's CPU between two of its turns
during the final save, and the parts the ended session keeps (count, bytes, load). The tree measured is the one on ``sys.path``: run it in another
tree with ``PYTHONPATH=<tree>/src`` to compare (docs/benchmarks.md: alternate the trees).

Usage: ``python bench/checkpoint.py [--chatters 10000,100000,1000000] [--rounds 15]
[--new 50] [--gifts 10] [--long N | --compaction N | --end N] [--postgres ADMIN_URL]
[--label NAME]``; ``--postgres``
(e.g. ``postgresql://postgres@127.0.0.1:5432/test``): the store is a PostgreSQL schema of that
database, created for each measure and dropped after it (bytes written: the client's, ~0).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import statistics
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pgtemp import fresh_schema

from dylive.analytics import Analytics
from dylive.store import RoomRecord, open_store

ROOM_ID = 7439018246715328306
CHAT = "WebcastChatMessage"
GIFT = "WebcastGiftMessage"
MINUTE_MS = 60_000
T0 = 1_780_000_000_000
PG_ADMIN = ""  # --postgres: each measure in a new schema of that database, else an SQLite file


@contextlib.contextmanager
def store_url(tmp: str) -> Iterator[str]:
    """An SQLite file in ``tmp``, or the URL of a new schema of ``PG_ADMIN``'s database (dropped
    afterwards)."""
    if not PG_ADMIN:
        yield str(Path(tmp) / "bench.db")
        return
    with fresh_schema(PG_ADMIN) as schema:
        yield schema.url


def written() -> int:
    """Bytes this process passed to write() so far (every thread)."""
    for line in Path("/proc/self/io").read_text().splitlines():
        if line.startswith("wchar:"):
            return int(line.split()[1])
    return 0


def uid(i: int) -> int:
    """The i-th user's uid: distinct, in no order (a sort of them costs what real uids cost)."""
    return 10**15 + (i * 2_654_435_761) % (1 << 40)


def chat(uid: int) -> dict[str, Any]:
    return {"content": "hi", "user": {"uid": uid, "nickname": f"user{uid}"}}


def gift(uid: int) -> dict[str, Any]:
    return {
        "gift": {"id": 463, "name": "rose", "diamond_count": 1, "delta": 1},
        "user": {"uid": uid, "nickname": f"user{uid}", "pay_grade_level": 12},
    }


async def measure(
    chatters: int, rounds: int, new: int, gifts: int, long: bool = False, due: bool = False
) -> dict[str, float]:
    """The figures of one session of ``chatters``, checkpointed ``rounds`` times."""
    with tempfile.TemporaryDirectory() as tmp, store_url(tmp) as url:
        store = open_store(url)
        await store.open()
        try:
            await store.upsert_room(RoomRecord(ROOM_ID, "1", 2))
            analytics = Analytics(store, checkpoint_every=3600)
            live = await analytics.catch_up(ROOM_ID)  # the session opened, nothing stored
            tally, seq = live.tally, 0
            gifters = max(1, chatters // 20)
            for i in range(chatters):  # spread over 240 minutes
                if due and i == 100:  # a small whole part: the rest makes a compaction due
                    await analytics._save(live)
                seq += 1
                at = T0 + (i * 240 // chatters) * MINUTE_MS
                tally.add(seq, seq, CHAT, at, chat(uid(i)))
                if i < gifters:
                    seq += 1
                    tally.add(seq, seq, GIFT, at, gift(uid(i)))
            await analytics._save(live)  # the first checkpoint: everything so far
            gc.collect()  # the set-up's garbage, and its young objects' first pass, not measured
            loop_ms, proc_ms, wbytes, payload, staged = [], [], [], [], 0
            nxt = chatters
            at = T0 + 240 * MINUTE_MS
            for r in range(rounds):
                for j in range(new):  # 2 s of a busy room
                    seq += 1
                    tally.add(seq, seq, CHAT, at, chat(uid(nxt)))
                    nxt += 1
                    seq += 1
                    tally.add(seq, seq, CHAT, at, chat(uid((r * new + j) % chatters)))
                for j in range(gifts):
                    seq += 1
                    tally.add(seq, seq, GIFT, at, gift(uid((r * gifts + j) % gifters)))
                at += 2_000
                before_parts = 0 if long else await _parts_bytes(store, live.session)
                w0, t0, p0 = written(), time.thread_time(), time.process_time()
                await analytics._save(live)
                t1, p1, w1 = time.thread_time(), time.process_time(), written()
                assert live.session.last_seq == seq, "checkpoint not saved"
                loop_ms.append((t1 - t0) * 1000)
                staged += bool(getattr(live.tally, "compacting", False))
                proc_ms.append((p1 - p0) * 1000)
                wbytes.append(w1 - w0)
                after_parts = 0 if long else await _parts_bytes(store, live.session)
                payload.append(len(live.session.state) + after_parts - before_parts)
            await analytics.close()
            parts = await _parts(store, live.session)
            t0, w0 = time.thread_time(), time.perf_counter()
            await Analytics(store).catch_up(ROOM_ID)  # a restart: the checkpoint loaded
            load_ms = (time.thread_time() - t0) * 1000
            load_wall = (time.perf_counter() - w0) * 1000
        finally:
            await store.close()
    return {
        "parts": len(parts),
        "parts_bytes": sum(len(p) for p in parts),
        "load_wall": load_wall,
        "loop_mean": statistics.fmean(loop_ms),
        "loop_max": max(loop_ms),
        "loop_max_at": loop_ms.index(max(loop_ms)),
        "staged": staged,
        "loop_ms": statistics.median(loop_ms),
        "proc_ms": statistics.median(proc_ms),
        "written": statistics.median(wbytes),
        "payload": statistics.median(payload),
        "load_ms": load_ms,
    }


async def ended(chatters: int, rounds: int, new: int, gifts: int) -> dict[str, float]:
    """A session whose compaction is due at once (as ``--compaction``), ``rounds`` checkpoints
    of 2 s folds (a stage in progress at 550k), then its end (the service's final save, with
    a report): the longest span of the loop's CPU without a yield during that save (a task
    yielding at every turn of the loop measures the gaps), the parts the ended session keeps,
    and their load (loop ms) in a new ``Analytics``."""
    with tempfile.TemporaryDirectory() as tmp, store_url(tmp) as url:
        store = open_store(url)
        await store.open()
        try:
            await store.upsert_room(RoomRecord(ROOM_ID, "1", 2))
            analytics = Analytics(store, checkpoint_every=3600)
            live = await analytics.catch_up(ROOM_ID)
            tally, seq = live.tally, 0
            gifters = max(1, chatters // 20)
            for i in range(chatters):
                if i == 100:
                    await analytics._save(live)
                seq += 1
                at = T0 + (i * 240 // chatters) * MINUTE_MS
                tally.add(seq, seq, CHAT, at, chat(uid(i)))
                if i < gifters:
                    seq += 1
                    tally.add(seq, seq, GIFT, at, gift(uid(i)))
            await analytics._save(live)
            at, nxt = T0 + 240 * MINUTE_MS, chatters
            for _ in range(rounds):
                for _ in range(new):
                    seq += 1
                    tally.add(seq, seq, CHAT, at, chat(uid(nxt)))
                    nxt += 1
                at += 2_000
                await analytics._save(live)
            open_stage = bool(getattr(live.tally, "compacting", False))
            seq += 1  # the last message before the end
            tally.add(seq, seq, CHAT, at, chat(uid(nxt)))
            gc.collect()
            spans: list[float] = []
            done = asyncio.Event()

            async def ticker() -> None:
                last = time.thread_time()
                while not done.is_set():
                    await asyncio.sleep(0)
                    now = time.thread_time()
                    spans.append(now - last)
                    last = now

            task = asyncio.create_task(ticker())
            await asyncio.sleep(0)
            await analytics._save(live, ended_at=at, report=b"{}")
            done.set()
            await task
            assert live.session.ended_at and live.session.last_seq == seq, "end not saved"
            parts = await _parts(store, live.session)
            await analytics.close()
            t0 = time.thread_time()
            await Analytics(store).catch_up(ROOM_ID)  # a report's load of the ended session
            load_ms = (time.thread_time() - t0) * 1000
        finally:
            await store.close()
    return {
        "open": open_stage,
        "span": max(spans) * 1000,
        "parts": len(parts),
        "parts_bytes": sum(len(p) for p in parts),
        "load_ms": load_ms,
    }


async def _parts_bytes(store: Any, session: Any) -> int:
    """Bytes of the session's parts (0 in a tree without them)."""
    return sum(len(p) for p in await _parts(store, session))


async def _parts(store: Any, session: Any) -> list[bytes]:
    """The session's parts ([] in a tree without them)."""
    parts = getattr(store, "session_parts", None)
    return [] if parts is None else list(await parts(session.id, session.last_seq))


def long_run(args: argparse.Namespace) -> None:
    print(
        f"{'tree':<10} {'checkpoints':>11} {'loop ms median':>14} {'mean':>6} {'max':>7}"
        f" {'parts':>6} {'parts bytes':>12} {'load ms':>8} {'load wall':>9}"
    )
    started = time.monotonic()
    n = int(args.chatters.split(",")[0])
    r = asyncio.run(measure(n, args.long, args.new, args.gifts, long=True))
    print(
        f"{args.label:<10} {args.long:>11,} {r['loop_ms']:>14.2f} {r['loop_mean']:>6.2f}"
        f" {r['loop_max']:>7.1f} {r['parts']:>6,} {r['parts_bytes']:>12,}"
        f" {r['load_ms']:>8.1f} {r['load_wall']:>9.1f}   ({time.monotonic() - started:.0f} s)",
        flush=True,
    )


def compaction_run(args: argparse.Namespace) -> None:
    print(
        f"{'tree':<10} {'chatters':>9} {'loop ms max':>11} {'at':>4} {'median':>7}"
        f" {'compacting':>10} {'parts':>6} {'parts bytes':>12} {'load ms':>8}"
    )
    for n in (int(x) for x in args.chatters.split(",")):
        started = time.monotonic()
        r = asyncio.run(measure(n, args.compaction, args.new, args.gifts, long=True, due=True))
        stages = "-" if r["staged"] == 0 and args.label.startswith("main") else r["staged"]
        print(
            f"{args.label:<10} {n:>9,} {r['loop_max']:>11.2f} {r['loop_max_at']:>4}"
            f" {r['loop_ms']:>7.2f} {stages:>10} {r['parts']:>6,} {r['parts_bytes']:>12,}"
            f" {r['load_ms']:>8.1f}   ({time.monotonic() - started:.0f} s)",
            flush=True,
        )


def end_run(args: argparse.Namespace) -> None:
    print(
        f"{'tree':<10} {'chatters':>9} {'stage open':>10} {'longest span ms':>15}"
        f" {'parts':>6} {'parts bytes':>12} {'load ms':>8}"
    )
    for n in (int(x) for x in args.chatters.split(",")):
        started = time.monotonic()
        r = asyncio.run(ended(n, args.end, args.new, args.gifts))
        print(
            f"{args.label:<10} {n:>9,} {r['open']!s:>10} {r['span']:>15.2f}"
            f" {r['parts']:>6,} {r['parts_bytes']:>12,} {r['load_ms']:>8.1f}"
            f"   ({time.monotonic() - started:.0f} s)",
            flush=True,
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--chatters", default="10000,100000,1000000")
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--new", type=int, default=50, help="new chatters per checkpoint")
    ap.add_argument("--gifts", type=int, default=10, help="gifts per checkpoint")
    ap.add_argument("--long", type=int, default=0, help="one session of that many checkpoints")
    ap.add_argument("--compaction", type=int, default=0, help="checkpoints after one is due")
    ap.add_argument("--end", type=int, default=0, help="checkpoints, then the session's end")
    ap.add_argument("--postgres", default="", help="admin URL: measure on PostgreSQL")
    ap.add_argument("--label", default="this tree")
    args = ap.parse_args()
    global PG_ADMIN
    PG_ADMIN = args.postgres
    if args.long:
        long_run(args)
        return
    if args.compaction:
        compaction_run(args)
        return
    if args.end:
        end_run(args)
        return
    print(
        f"{'tree':<10} {'chatters':>9} {'loop ms':>8} {'proc ms':>8} {'written':>11} {'payload':>10} {'load ms':>8}"
    )
    for n in (int(x) for x in args.chatters.split(",")):
        started = time.monotonic()
        r = asyncio.run(measure(n, args.rounds, args.new, args.gifts))
        print(
            f"{args.label:<10} {n:>9,} {r['loop_ms']:>8.2f} {r['proc_ms']:>8.2f}"
            f" {r['written']:>11,.0f} {r['payload']:>10,.0f} {r['load_ms']:>8.1f}"
            f"   ({time.monotonic() - started:.0f} s)",
            flush=True,
        )


if __name__ == "__main__":
    main()

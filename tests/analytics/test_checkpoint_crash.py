"""Analytics SIGKILLed while it checkpoints, on both backends: whenever the process dies, the
stored checkpoint (the session row's state and the parts up to its seq) is exactly the fold of
the stored rows up to that seq, and the report after restarts equals the ground truth.

A child process appends a broadcast in small batches and its ``Analytics`` checkpoints after
every fold (``checkpoint_every=0``), compacting the session's parts every few checkpoints
(``compact_floor=1``: as soon as the parts after the whole ones cost more to load than they do)
in stages of a few slices (``compact_slice``); it is killed right after its Nth checkpoint (and
at least one finished compaction), or in the middle of a stage, among the appends, folds,
checkpoints and compaction slices that follow; the next child resumes the stage it cut short.
The last restart ends the session (a report): its final checkpoint leaves no stage open.
"""

from __future__ import annotations

import asyncio
import dataclasses
import sys
from pathlib import Path

import orjson
from support.tally_state import within_bound
from support.waiting import until

from dylive.analytics import Analytics
from dylive.analytics.service import _payload
from dylive.analytics.staging import PartLog
from dylive.analytics.tally import SessionTally
from dylive.sim.offline import broadcast
from dylive.sim.totals import totals
from dylive.store import EventStore, RoomRecord, open_store

from .test_analytics_store import ROOM_ID, WEB_RID, assert_matches, record

SECONDS, RATE, SEED, CHUNK = 120, 20.0, 21, 10
FLOOR = 1  # compact_floor: compactions every few checkpoints
SLICE = 24  # compact_slice: a stage takes several checkpoints

CHILD = f"""
import asyncio, sys
import orjson
from dylive.analytics import Analytics
from dylive.decode import decode, render
from dylive.sim.offline import broadcast
from dylive.store import Record, open_store
from dylive.wire.frames import RawMessage

def record(e):
    raw = e.payload or b""
    event = decode(RawMessage(e.method, e.msg_id, raw), room_id=e.room_id)
    return Record(room_id=e.room_id, msg_id=e.msg_id, method=e.method, created_at=e.created_at,
                  rendered=orjson.dumps(render(event)), raw=raw)

async def main(url, start):
    entries = broadcast({WEB_RID!r}, {ROOM_ID}, {SECONDS}, rate={RATE}, seed={SEED})[:-1]
    store = open_store(url)
    await store.open()
    class Saving(Analytics):
        async def _save(self, live, **kw):
            staged = live.tally.compacting or live.tally.compact_due(self.compact_floor)
            await super()._save(live, **kw)
            if not staged:
                print("saved", flush=True)
            else:  # a slice of a stage, its last when the stage is over
                print("saved slice" if live.tally.compacting else "saved whole", flush=True)

    analytics = Saving(
        store, checkpoint_every=0.0, fold_every=0.0, compact_floor={FLOOR}, compact_slice={SLICE}
    )
    for at in range(start, len(entries), {CHUNK}):
        await store.append([record(e) for e in entries[at : at + {CHUNK}]])
        analytics.notify({ROOM_ID})
        print("appended", at, flush=True)
        await asyncio.sleep(0.005)
    await asyncio.sleep(3600)  # killed before

asyncio.run(main(sys.argv[1], int(sys.argv[2])))
"""


async def stored_rows(store: EventStore) -> list[tuple[int, int, str, int, bytes]]:
    return await store.scan(ROOM_ID, 0, 1_000_000, rendered=True)


def same(a: SessionTally, b: SessionTally) -> bool:
    streaks = [t.ledger.streaks() if t.ledger else [] for t in (a, b)]
    plain = [dataclasses.replace(t, ledger=None, prices={}) for t in (a, b)]
    return plain[0] == plain[1] and streaks[0] == streaks[1]


async def checked(url: str) -> int:
    """The stored checkpoint against the stored rows, in a store opened now (the SQLite store
    learns the rows another process wrote when it opens); the number of stored rows."""
    store = open_store(url)
    await store.open()
    try:
        rows = await stored_rows(store)
        session = await store.get_session(room_id=ROOM_ID)
        assert session is not None and session.last_seq > 0
        parts = await store.session_parts(session.id, session.last_seq)
        saved = SessionTally.from_state(session.state, parts)
        straight = SessionTally()
        for row in rows:
            if row[0] <= session.last_seq:
                straight.add(*row[:4], _payload(row))
        assert saved.last_seq == session.last_seq and straight.chatters
        assert same(saved, straight)
        assert within_bound(parts, FLOOR)
        return len(rows)
    finally:
        await store.close()


async def stage_open(url: str) -> bool:
    """The stored parts hold a stage in progress."""
    store = open_store(url)
    await store.open()
    try:
        session = await store.get_session(room_id=ROOM_ID)
        assert session is not None
        log = PartLog()
        for blob in await store.session_parts(session.id, session.last_seq):
            log.see(orjson.loads(blob), len(blob))
        return log.open_at >= 0
    finally:
        await store.close()


async def test_a_sigkill_leaves_a_checkpoint_equal_to_the_fold_of_its_rows(
    store_url: str, tmp_path: Path
) -> None:
    entries = broadcast(WEB_RID, ROOM_ID, SECONDS, rate=RATE, seed=SEED)
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    store = open_store(store_url)
    await store.open()
    await store.upsert_room(RoomRecord(ROOM_ID, WEB_RID, 2))
    await store.close()
    start, compactions, cut = 0, 0, 0
    # kill after that many checkpoints of this run and a finished compaction, or amid a stage
    for saves, amid in ((3, False), (4, True), (6, False), (10, False), (2, True)):
        wholes = slices = 0
        child = await asyncio.create_subprocess_exec(
            sys.executable, str(script), store_url, str(start), stdout=asyncio.subprocess.PIPE
        )
        assert child.stdout is not None
        try:
            while saves > 0 or not (slices if amid else wholes):
                line = await asyncio.wait_for(child.stdout.readline(), 60)
                assert line, "the child ended early"
                saves -= line.startswith(b"saved")
                wholes += line.startswith(b"saved whole")
                slices = slices + 1 if line.startswith(b"saved slice") else 0
        finally:
            child.kill()
            await child.wait()
        stored = await checked(store_url)
        assert start < stored < len(entries)
        start, compactions = stored, compactions + wholes
        last_open = amid and await stage_open(store_url)
        cut += last_open
    assert cut >= 1  # at least one kill left a stage unfinished in the store
    assert compactions >= 3
    store = open_store(store_url)
    await store.open()
    try:
        # the last restart: the rest of the broadcast, then its end (which leaves no stage open)
        analytics = Analytics(store, compact_floor=FLOOR, compact_slice=SLICE)
        await store.append([record(e) for e in entries])
        session = await until(lambda: store.get_session(room_id=ROOM_ID), 10)
        report = await analytics.report(session.id, top=10_000)
        await analytics.close()
        assert report is not None
        assert_matches(report, totals(entries, 1))
    finally:
        await store.close()
    assert await checked(store_url) == len(entries)  # the ended session: the fold of every row
    assert not await stage_open(store_url)
    if last_open:  # the end finished what the kill left: one whole part
        store = open_store(store_url)
        await store.open()
        try:
            ended = await store.get_session(room_id=ROOM_ID)
            assert ended is not None and ended.ended_at
            assert len(await store.session_parts(ended.id, ended.last_seq)) == 1
        finally:
            await store.close()

"""A session's end leaves its parts compacted, on both backends.

An ended session is never checkpointed again. Its final checkpoint used to carry one slice of a
staged compaction at most (none when nothing was folded since the previous checkpoint: a slice
needs a new seq), so a session that ended with a stage in progress kept its old parts and the
stage's (about three times its size to load) for good. Now the final checkpoint rewrites the
whole tally in its part, serialized in bounded pieces, and the parts before it go in the same
write (``SessionTally.final_checkpoint``); a report that loads an ended session left with an
open stage (by a release before this one) compacts it the same way.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from support.tally_state import within_bound

from dylive.analytics import Analytics
from dylive.analytics.tally import SessionTally
from dylive.sim.offline import broadcast
from dylive.store import EventStore, RoomRecord, open_store

from .test_analytics_store import ROOM_ID, WEB_RID, record
from .test_checkpoint_parts import same


async def straight(store: EventStore) -> SessionTally:
    """A fold of every stored row of the room, from nothing."""
    tally, fresh = SessionTally(), Analytics(store)
    rows = await store.scan(ROOM_ID, 0, 1_000_000, rendered=True)
    live = await fresh.catch_up(ROOM_ID)  # (its payload parser)
    live.tally = tally
    await fresh._fold(live, rows)
    return tally


async def stage_open_before_the_end(store: EventStore, analytics: Analytics) -> Any:
    """Every message but the last ones stored and checkpointed often, with a stage in
    progress at the last checkpoint; the session's live record."""
    entries = broadcast(WEB_RID, ROOM_ID, 120, rate=20.0, seed=11)
    cut = len(entries) - 5
    await store.upsert_room(RoomRecord(ROOM_ID, WEB_RID, 2))
    live = None
    for start in range(0, cut, 40):
        await store.append([record(e) for e in entries[start : min(cut, start + 40)]])
        live = await analytics.catch_up(ROOM_ID)
        if live.dirty:
            await analytics.flush()
    assert live is not None and live.tally.compacting, "the set-up needs a stage in progress"
    return live, entries[cut:]


async def stored_parts(store: EventStore) -> tuple[Any, list[bytes]]:
    session = await store.get_session(room_id=ROOM_ID)
    assert session is not None
    return session, await store.session_parts(session.id, session.last_seq)


async def test_a_session_ended_during_a_stage_keeps_one_whole_part(store_url: str) -> None:
    store = open_store(store_url)
    await store.open()
    try:
        analytics = Analytics(store, compact_floor=0, compact_slice=16)
        _, rest = await stage_open_before_the_end(store, analytics)
        await store.append([record(e) for e in rest])  # the broadcast's last messages
        await analytics.end(ROOM_ID)
        session, parts = await stored_parts(store)
        assert session.ended_at and session.report
        assert len(parts) == 1  # the whole tally: the old parts and the stage's are gone
        loaded = SessionTally.from_state(session.state, parts)
        assert same(loaded, await straight(store)) and not loaded.compacting
        assert loaded.debt == 0 and within_bound(parts, 0)
        await analytics.close()
    finally:
        await store.close()


async def test_an_end_with_nothing_new_since_the_last_checkpoint_still_compacts(
    store_url: str,
) -> None:
    """The final checkpoint has no new seq: its whole part replaces the part already saved
    under that seq (``drop_before`` past it), in the same write."""
    store = open_store(store_url)
    await store.open()
    try:
        analytics = Analytics(store, compact_floor=0, compact_slice=16)
        live, _ = await stage_open_before_the_end(store, analytics)
        assert not live.dirty  # every row checkpointed: the room went quiet, then status 4
        before = len((await stored_parts(store))[1])
        await analytics.end(ROOM_ID)
        session, parts = await stored_parts(store)
        assert session.ended_at and before > 1 and len(parts) == 1
        assert same(SessionTally.from_state(session.state, parts), await straight(store))
        await analytics.close()
    finally:
        await store.close()


async def test_a_report_of_a_session_ended_with_an_open_stage_compacts_it(
    store_url: str,
) -> None:
    """A session ended by a release before this one (its final checkpoint a plain one, the
    stage left open): a report that loads it saves it compacted, the report unchanged."""
    store = open_store(store_url)
    await store.open()
    try:
        old = Analytics(store, compact_floor=0, compact_slice=16)
        live, rest = await stage_open_before_the_end(store, old)
        await store.append([record(e) for e in rest])
        live = await old.catch_up(ROOM_ID)
        plain = live.tally.checkpoint(old.compact_floor, old.compact_slice)  # the old final
        ended = dataclasses.replace(
            live.session, ended_at=live.tally.last_at, last_seq=live.tally.last_seq,
            state=plain.state, report=b'{"stale": true}',
        )  # fmt: skip
        assert await store.save_session(ended, live.session.last_seq, plain.part)
        await old.close()
        _, parts = await stored_parts(store)
        assert SessionTally.from_state(ended.state, parts).compacting and len(parts) > 1
        session = await store.get_session(room_id=ROOM_ID)
        assert session is not None
        reader = Analytics(store, compact_floor=0)
        report = await reader.report(session.id, top=3)  # not the stored one: loads the session
        assert report is not None
        session, parts = await stored_parts(store)
        assert len(parts) == 1
        assert same(SessionTally.from_state(session.state, parts), await straight(store))
        await reader.close()
    finally:
        await store.close()

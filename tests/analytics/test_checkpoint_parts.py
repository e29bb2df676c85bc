"""Checkpoints in parts, on both backends: a checkpoint writes what changed since the previous one
(new chatters, changed gifters and ranked users) beside the fixed-size state, in the transaction
of the compare-and-set; a session resumes from the state and its parts exactly as an
uninterrupted run; a checkpoint saved before parts (the whole tally in the state) still loads."""

from __future__ import annotations

import dataclasses
from typing import Any

import orjson
import pytest
from support.tally_state import whole_state, within_bound

from dylive.analytics import Analytics
from dylive.analytics.tally import PART_COST, SessionTally
from dylive.errors import StoreError
from dylive.sim.offline import broadcast
from dylive.store import RoomRecord, SessionRecord, open_store

from .test_analytics_store import ROOM_ID, WEB_RID, record

CHAT = "WebcastChatMessage"
GIFT = "WebcastGiftMessage"


def chat(uid: int) -> dict[str, Any]:
    return {"content": "hi", "user": {"uid": uid, "nickname": f"u{uid}"}}


def gift(uid: int, delta: int) -> dict[str, Any]:
    return {
        "gift": {"id": 1, "name": "rose", "diamond_count": 1, "delta": delta},
        "user": {"uid": uid, "nickname": f"u{uid}"},
    }


def masked_chat(token: str) -> dict[str, Any]:
    return {"content": "hi", "user": {"uid": 111111, "webcast_uid": token, "masked": True}}


def same(a: SessionTally, b: SessionTally) -> bool:
    """Equal tallies (the gift ledger compared by its streaks; prices are not the tally's)."""
    streaks = [t.ledger.streaks() if t.ledger else [] for t in (a, b)]
    plain = [dataclasses.replace(t, ledger=None, prices={}) for t in (a, b)]
    return plain[0] == plain[1] and streaks[0] == streaks[1]


def test_a_part_holds_only_what_changed_since_the_previous_checkpoint() -> None:
    tally = SessionTally()
    tally.add(1, 1, CHAT, 1_000, chat(5))
    tally.add(2, 2, CHAT, 1_000, chat(3))
    tally.add(3, 3, GIFT, 1_000, gift(5, 2))
    state, part = tally.checkpoint()[:2]
    assert not {"chatters", "gifters", "ranks", "minutes"} & set(orjson.loads(state))
    assert orjson.loads(part) == {
        "chatters": [5, 3],
        "gifters": [[5, "u5", 2, 2, 0]],
        "minutes": [[0, -1, 2, 0, 2, 3]],
    }
    tally.checkpointed()
    tally.add(4, 4, CHAT, 2_000, chat(5))  # known chatter: nothing new
    tally.add(5, 5, CHAT, 2_000, masked_chat("A"))
    tally.add(6, 6, GIFT, 62_000, gift(5, 1))  # the next minute
    state2, part2 = tally.checkpoint()[:2]
    assert orjson.loads(part2) == {
        "chatters": ["A"],
        "gifters": [[5, "u5", 3, 3, 0]],
        "minutes": [[0, -1, 4, 0, 2, 5], [1, -1, 0, 0, 1, 1]],
    }
    tally.checkpointed()
    assert tally.checkpoint()[1] == b""  # nothing grew: no part
    again = SessionTally.from_state(state2, [part, part2])
    assert again == tally and again.chatters == {5, 3, "A"} and again.gifters == tally.gifters
    assert again.checkpoint()[1] == b""  # what the parts hold is checkpointed already


def test_a_whole_state_loads_and_its_next_part_writes_everything_out() -> None:
    tally = SessionTally()
    for seq, uid in enumerate((9, 2, 7), 1):
        tally.add(seq, seq, CHAT, 1_000, chat(uid))
    tally.add(4, 4, GIFT, 1_000, gift(2, 5))
    old = SessionTally.from_state(whole_state(tally))  # the format before parts
    assert old == tally and old.chatters == {9, 2, 7}
    state, part = old.checkpoint()[:2]
    assert orjson.loads(part) == {
        "chatters": [2, 7, 9],
        "gifters": [[2, "u2", 5, 5, 0]],
        "minutes": [[0, -1, 3, 0, 5, 4]],
    }
    assert SessionTally.from_state(state, [part]) == tally


async def test_save_appends_the_part_only_with_the_row(store_url: str) -> None:
    store = open_store(store_url)
    await store.open()
    try:
        s = await store.open_session(SessionRecord(0, ROOM_ID, web_rid=WEB_RID))
        first = dataclasses.replace(s, last_seq=10, state=b"s10")
        assert await store.save_session(first, 0, b"p10") is True
        second = dataclasses.replace(s, last_seq=20, state=b"s20")
        assert await store.save_session(second, 0, b"lost") is False  # compare-and-set failed
        assert await store.session_parts(s.id, 20) == [b"p10"]  # ... and added no part
        assert await store.save_session(second, 10, b"p20") is True
        assert await store.save_session(dataclasses.replace(s, last_seq=25), 20) is True
        assert await store.session_parts(s.id, 25) == [b"p10", b"p20"]
        assert await store.session_parts(s.id, 19) == [b"p10"]  # up to the row's seq only
        assert await store.session_parts(s.id + 1, 99) == []
        # a part that cannot be written takes the row's update down with it (one transaction)
        clash = dataclasses.replace(s, last_seq=20, state=b"never")
        with pytest.raises(StoreError):
            await store.save_session(clash, 25, b"clash")  # (session, 20) is taken
        kept = await store.get_session(session_id=s.id)
        assert kept is not None and (kept.last_seq, kept.state) == (25, b"")
    finally:
        await store.close()


async def test_resume_from_parts_equals_an_uninterrupted_run(store_url: str) -> None:
    entries = broadcast(WEB_RID, ROOM_ID, 120, rate=20.0, seed=11)
    store = open_store(store_url)
    await store.open()
    try:
        await store.upsert_room(RoomRecord(ROOM_ID, WEB_RID, 2, title="t", anchor_nickname="a"))
        analytics = Analytics(store)
        cut = len(entries) * 3 // 4
        for start in range(0, cut, 200):  # a checkpoint after each commit: several parts
            await store.append([record(e) for e in entries[start : min(cut, start + 200)]])
            live = await analytics.catch_up(ROOM_ID)
            await analytics.flush()
            assert not live.dirty
        session = live.session
        parts = await store.session_parts(session.id, session.last_seq)
        assert len(parts) > 2
        assert "chatters" not in orjson.loads(session.state)
        written = [k for p in parts for k in orjson.loads(p).get("chatters", ())]
        assert len(written) == len(set(written)) == len(live.tally.chatters)  # each once
        held = live.tally
        await analytics.close()
        resumed = Analytics(store)  # a restart: state + parts
        assert same((await resumed.catch_up(ROOM_ID)).tally, held)
        await store.append([record(e) for e in entries[cut:]])
        report = await resumed.report(session.id, top=10_000)
        await resumed.close()

        straight = SessionTally()  # the same rows folded in one go, never checkpointed
        for seq, msg_id, method, created_at, rendered in await store.scan(
            ROOM_ID, 0, 100_000, rendered=True
        ):
            body = orjson.loads(rendered)
            straight.add(seq, msg_id, method, created_at, body.get("payload") or {})
        assert report is not None and report["unique_chatters"] == len(straight.chatters) > 0
        stored = await store.get_session(session_id=session.id)
        assert stored is not None and stored.ended_at
        final = SessionTally.from_state(
            stored.state, await store.session_parts(stored.id, stored.last_seq)
        )
        assert same(final, straight)
    finally:
        await store.close()


async def test_a_checkpoint_saved_before_parts_resumes(store_url: str) -> None:
    entries = broadcast(WEB_RID, ROOM_ID, 60, rate=20.0, seed=4)
    half = len(entries) // 2
    store = open_store(store_url)
    await store.open()
    try:
        await store.upsert_room(RoomRecord(ROOM_ID, WEB_RID, 2))
        await store.append([record(e) for e in entries[:half]])
        analytics = Analytics(store)
        live = await analytics.catch_up(ROOM_ID)
        old = dataclasses.replace(
            live.session, last_seq=live.tally.last_seq, state=whole_state(live.tally)
        )  # what the previous release wrote: everything in the row, no parts
        assert await store.save_session(old, live.session.last_seq) is True
        chatters = set(live.tally.chatters)
        await analytics.close()

        upgraded = Analytics(store)
        assert (await upgraded.catch_up(ROOM_ID)).tally.chatters == chatters
        await store.append([record(e) for e in entries[half:]])
        report = await upgraded.report(old.id, top=10_000)
        await upgraded.close()
        stored = await store.get_session(session_id=old.id)
        assert stored is not None and "chatters" not in orjson.loads(stored.state)
        parts = await store.session_parts(stored.id, stored.last_seq)
        final = SessionTally.from_state(stored.state, parts)
        assert chatters <= final.chatters  # the old state's chatters went into the part
        assert report is not None and report["unique_chatters"] == len(final.chatters)
    finally:
        await store.close()


def test_a_staged_compaction_alone_loads_the_tally_the_parts_before_it_did() -> None:
    tally, parts, seq = SessionTally(), [], 0
    for round_ in range(12):
        for uid in range(round_ * 3, round_ * 3 + 5):  # new chatters, and some again
            seq += 1
            tally.add(seq, seq, CHAT, 60_000 * round_, chat(uid))
        seq += 1
        tally.add(seq, seq, GIFT, 60_000 * round_, gift(round_ % 2, 1))
        cp = tally.checkpoint(floor=1, budget=8)
        if cp.drop_before:  # the stage's last slice: the parts before its first go
            assert tally.compacting
            parts = [(s, p) for s, p in parts if s >= cp.drop_before]
        parts.append((cp.seq, cp.part))
        tally.checkpointed(cp)
        blobs = [p for _, p in parts]
        assert same(SessionTally.from_state(cp.state, blobs), tally)  # at every point
        if cp.drop_before:
            stage = [orjson.loads(p) for p in blobs]
            assert stage[0]["stage"] == [cp.drop_before, 0] and stage[-1]["stage"][1] == 1
            whole = sum(len(p) + PART_COST for p in blobs) - PART_COST
            assert (tally.whole_bytes, tally.debt, tally.compacting) == (whole, 0, False)
            loaded = SessionTally.from_state(cp.state, blobs)  # the accounting of a load
            assert (loaded.whole_bytes, loaded.debt) == (whole, 0)
            break
    else:
        raise AssertionError("no staged compaction finished")
    assert len(parts) > 1  # it took several checkpoints


async def test_a_compactions_end_deletes_the_parts_before_it_with_the_row(
    store_url: str,
) -> None:
    store = open_store(store_url)
    await store.open()
    try:
        s = await store.open_session(SessionRecord(0, ROOM_ID, web_rid=WEB_RID))
        for seq in (10, 20, 30):
            moved = dataclasses.replace(s, last_seq=seq)
            assert await store.save_session(moved, seq - 10 if seq > 10 else 0, b"p%d" % seq)
        lost = dataclasses.replace(s, last_seq=40)
        assert await store.save_session(lost, 20, b"w40", drop_before=20) is False  # CAS failed
        assert await store.session_parts(s.id, 40) == [b"p10", b"p20", b"p30"]  # nothing gone
        assert await store.save_session(lost, 30, b"w40", drop_before=20) is True
        assert await store.session_parts(s.id, 40) == [b"p20", b"p30", b"w40"]
        again = dataclasses.replace(s, last_seq=50)  # a compaction in one slice
        assert await store.save_session(again, 40, b"w50", drop_before=50) is True
        assert await store.session_parts(s.id, 50) == [b"w50"]
    finally:
        await store.close()


async def test_a_long_session_keeps_its_parts_bounded_and_resumes_exactly(store_url: str) -> None:
    entries = broadcast(WEB_RID, ROOM_ID, 180, rate=20.0, seed=5)
    store = open_store(store_url)
    await store.open()
    try:
        await store.upsert_room(RoomRecord(ROOM_ID, WEB_RID, 2))
        analytics = Analytics(store, compact_floor=0)  # compacts as soon as the parts cost more
        saves = 0
        for start in range(0, len(entries) - 1, 40):  # a checkpoint after each commit
            await store.append([record(e) for e in entries[start : start + 40]])
            live = await analytics.catch_up(ROOM_ID)
            if live.dirty:
                await analytics.flush()
                saves += 1
            if live.tally.ended_at:
                break
        session = live.session
        parts = await store.session_parts(session.id, session.last_seq)
        assert 1 <= len(parts) < saves // 4  # compacted: fewer parts than checkpoints
        assert within_bound(parts, 0)
        held = live.tally
        assert same(SessionTally.from_state(session.state, parts), held)
        await analytics.close()
        resumed = Analytics(store, compact_floor=0)  # a restart: the accounting resumes too
        tally = (await resumed.catch_up(ROOM_ID)).tally
        assert same(tally, held) and (tally.whole_bytes, tally.debt) == (
            held.whole_bytes,
            held.debt,
        )
        await resumed.close()
    finally:
        await store.close()


async def test_a_load_beside_a_compaction_in_another_process_reads_again(
    store_url: str,
) -> None:
    entries = broadcast(WEB_RID, ROOM_ID, 60, rate=20.0, seed=8)
    cut = len(entries) * 3 // 4
    store = open_store(store_url)
    await store.open()
    try:
        await store.upsert_room(RoomRecord(ROOM_ID, WEB_RID, 2))
        writer = Analytics(store)  # another process (no compaction yet: the floor)
        for start in range(0, cut, 200):
            await store.append([record(e) for e in entries[start : min(cut, start + 200)]])
            await writer.catch_up(ROOM_ID)
            await writer.flush()
        session = writer._live[ROOM_ID].session
        assert len(await store.session_parts(session.id, session.last_seq)) > 2
        reader = Analytics(store)
        real_parts, compacted = store.session_parts, []

        async def parts_after_a_compaction(session_id: int, upto_seq: int) -> list[bytes]:
            if not compacted:  # the writer compacts between the reader's two reads
                await store.append([record(e) for e in entries[cut:-1]])
                live = await writer.catch_up(ROOM_ID)
                live.tally.debt = 1 << 40  # due now
                await writer._save(live)
                compacted.append(live.session.last_seq)
                assert len(await real_parts(session_id, live.session.last_seq)) == 1
            return await real_parts(session_id, upto_seq)

        store.session_parts = parts_after_a_compaction  # type: ignore[method-assign]
        loaded = (await reader._load(ROOM_ID)).tally
        assert compacted and loaded.last_seq == compacted[0] > session.last_seq
        assert same(loaded, writer._live[ROOM_ID].tally)
    finally:
        await store.close()


async def test_a_save_that_does_not_know_the_end_does_not_overwrite_it(store_url: str) -> None:
    """Another node ended the session at the seq this one expects: this one's plain checkpoint
    (no ``ended_at``) loses the compare-and-set, so it loads the session again and finishes it,
    instead of writing over the end and its whole part."""
    async with open_store(store_url) as store:
        s = await store.open_session(SessionRecord(0, ROOM_ID, web_rid=WEB_RID))
        base = dataclasses.replace(s, last_seq=10, state=b"s10")
        assert await store.save_session(base, 0, b"p10") is True
        ended = dataclasses.replace(base, ended_at=2_000)
        assert await store.save_session(ended, 10, b"whole", drop_before=11) is True
        assert await store.save_session(dataclasses.replace(base, last_seq=12), 10, b"p12") is False
        [stored] = await store.list_sessions(room_id=ROOM_ID)
        assert (stored.ended_at, stored.last_seq) == (2_000, 10)
        # a save that knows the end (a report of the ended session) still writes
        again = dataclasses.replace(ended, report=b"{}")
        assert await store.save_session(again, 10) is True

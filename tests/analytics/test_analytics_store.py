"""Analytics over a store, on both backends: every stored message counts exactly once whatever
the duplicates, the order of a streak's messages or restarts; the report equals the simulator's
ground truth for the same messages."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import orjson

from dylive.analytics import Analytics
from dylive.decode import decode, render
from dylive.sim.offline import broadcast
from dylive.sim.rooms import LogEntry
from dylive.sim.totals import totals
from dylive.store import Record, RoomRecord, open_store
from dylive.wire.frames import RawMessage

ROOM_ID = 7439018246715328306
WEB_RID = "80017709309"


def record(entry: LogEntry) -> Record:
    """The stored record of a simulated message, rendered as the collector renders it."""
    raw = entry.payload or b""
    event = decode(RawMessage(entry.method, entry.msg_id, raw), room_id=entry.room_id)
    return Record(
        room_id=entry.room_id,
        msg_id=entry.msg_id,
        method=entry.method,
        created_at=entry.created_at,
        rendered=orjson.dumps(render(event)),
        raw=raw,
    )


def assert_matches(report: dict[str, Any], truth: dict[str, Any]) -> None:
    assert report["messages"] == truth["counts"]
    assert report["gifts"] == truth["gifts"] > 0
    assert report["gift_diamonds"] == truth["gift_diamonds"] > 0
    assert report["likes"] == truth["likes"]
    assert report["follows"] == truth["follows"]
    assert report["shares"] == truth["shares"]
    assert report["fansclub_joins"] == truth["fansclub_joins"]
    assert report["unique_chatters"] == truth["unique_chatters"]
    assert report["viewers"]["peak"] == truth["peak_viewers"]
    assert [[g["uid"], g["diamonds"]] for g in report["top_gifters"]] == truth["top_gifters"]
    assert [[g["uid"], g["gifts"]] for g in report["top_gifters"]] == truth["gifts_by_user"]
    assert sum(g["diamonds"] for g in report["gift_table"]) == truth["gift_diamonds"]
    assert sum(report["series"]["diamonds"]) == truth["gift_diamonds"]
    assert sum(report["series"]["likes"]) == truth["likes"]
    assert sum(report["series"]["chat"]) == truth["counts"].get("WebcastChatMessage", 0)


def shuffled_streaks(entries: list[LogEntry], rng: random.Random) -> list[LogEntry]:
    """The gift messages shuffled among themselves (streaks arrive in any order)."""
    gift_slots = [i for i, e in enumerate(entries) if e.method == "WebcastGiftMessage"]
    gifts = [entries[i] for i in gift_slots]
    rng.shuffle(gifts)
    out = list(entries)
    for slot, entry in zip(gift_slots, gifts, strict=True):
        out[slot] = entry
    return out


async def test_report_equals_ground_truth_across_duplicates_and_restarts(store_url: str) -> None:
    entries = broadcast(WEB_RID, ROOM_ID, 240, rate=20.0, seed=3)
    truth = totals(entries, 1)
    rng = random.Random(5)
    arrival = shuffled_streaks(entries, rng)
    half = len(arrival) // 2
    store = open_store(store_url)
    await store.open()
    try:
        await store.upsert_room(RoomRecord(ROOM_ID, WEB_RID, 2, title="t", anchor_nickname="a"))
        analytics = Analytics(store, batch=97)
        for start in range(0, half, 50):
            batch = arrival[start : start + 50]
            again = rng.sample(arrival[: start + 50], 10)  # re-sent messages: ignored rows
            await store.append([record(e) for e in batch + again])
            analytics.notify(ROOM_ID)
        await analytics.flush()
        await analytics.close()  # a restart: the next instance resumes from the checkpoint
        analytics = Analytics(store, batch=1000)
        await store.append([record(e) for e in arrival[half - 100 :]])  # overlap: duplicates
        await store.append([record(e) for e in rng.sample(arrival, 300)])
        sessions = await analytics.sessions(web_rid=WEB_RID)
        assert [s["room_id"] for s in sessions] == [ROOM_ID]
        report = await analytics.report(sessions[0]["id"], top=10_000)
        assert report is not None
        assert_matches(report, truth)
        assert report["session"]["ended_at"] == entries[-1].created_at
        assert report["session"]["duration_seconds"] == 240
        # streaks shuffled across the broadcast: a ranking may be read before the gifts it
        # counts arrived, so only the shape is checked here (exactness: the in-order test)
        assert report["reconciliation"]["users"]
        stored = await store.get_session(session_id=sessions[0]["id"])
        assert stored is not None and stored.ended_at and stored.report
        again = await Analytics(store).report(sessions[0]["id"])
        assert again == orjson.loads(stored.report)  # the finished report is served as stored
        await analytics.close()
    finally:
        await store.close()


async def test_running_session_is_live_and_a_new_broadcast_ends_the_previous(
    store_url: str,
) -> None:
    first = broadcast(WEB_RID, ROOM_ID, 60, rate=10.0, seed=8)[:-1]  # no "ended" message
    second = broadcast(WEB_RID, ROOM_ID + 1, 30, rate=10.0, seed=9, start_ms=first[-1].created_at)
    store = open_store(store_url)
    await store.open()
    try:
        await store.upsert_room(RoomRecord(ROOM_ID, WEB_RID, 2))
        analytics = Analytics(store)
        await store.append([record(e) for e in first[:200]])
        sid = (await analytics.catch_up(ROOM_ID)).session.id
        live = await analytics.report(sid)
        assert live is not None and live["session"]["live"] is True
        assert live["messages"] == totals(first[:200], 1)["counts"]
        await store.append([record(e) for e in first[200:]])
        live = await analytics.report(sid, top=10_000)  # caught up on request
        assert live is not None
        assert_matches(live, totals(first, 1))
        rec = live["reconciliation"]
        assert rec["users"] and rec["diff_total"] == 0 and rec["douyin_total"] > 0
        await store.upsert_room(RoomRecord(ROOM_ID + 1, WEB_RID, 2))
        await store.append([record(e) for e in second])
        await analytics.catch_up(ROOM_ID + 1)
        sessions = await analytics.sessions(web_rid=WEB_RID)
        assert [s["room_id"] for s in sessions] == [ROOM_ID + 1, ROOM_ID]
        assert sessions[1]["ended_at"] == first[-1].created_at
        assert sessions[0]["ended_at"] == second[-1].created_at or sessions[0]["live"]
        await analytics.close()
    finally:
        await store.close()


async def test_idle_worker_leaves_and_comes_back(store_url: str) -> None:
    entries = broadcast(WEB_RID, ROOM_ID, 20, rate=10.0, seed=2)
    store = open_store(store_url)
    await store.open()
    try:
        analytics = Analytics(store, checkpoint_every=0.05, idle_after=0.2)
        await store.append([record(e) for e in entries[:100]])
        analytics.notify(ROOM_ID)
        async with asyncio.timeout(20):
            while not analytics.idle(ROOM_ID):  # noqa: ASYNC110 (folded, checkpointed, gone)
                await asyncio.sleep(0.02)
        stored = await store.get_session(room_id=ROOM_ID)
        assert stored is not None and stored.last_seq > 0 and analytics.folded == 100
        await store.append([record(e) for e in entries[100:]])
        analytics.notify(ROOM_ID)
        async with asyncio.timeout(20):
            while not (await store.get_session(room_id=ROOM_ID) or stored).ended_at:  # noqa: ASYNC110
                await asyncio.sleep(0.02)
        assert analytics.folded == len(entries)
        await analytics.close()
    finally:
        await store.close()


async def test_a_busy_room_folds_several_commits_at_once(store_url: str) -> None:
    """After a fold the worker waits ``fold_every`` before the next one: the commits of that
    span are folded together (fewer, larger folds; each message still exactly once)."""
    entries = broadcast(WEB_RID, ROOM_ID, 20, rate=10.0, seed=2)[:50]
    store = open_store(store_url)
    await store.open()
    folds: list[int] = []

    class Counting(Analytics):
        async def _fold(self, live: Any, rows: list[Any]) -> None:
            folds.append(len(rows))
            await super()._fold(live, rows)

    try:
        analytics = Counting(store, fold_every=2.0)
        for i in range(0, 50, 10):  # five commits, each announced at once
            await store.append([record(e) for e in entries[i : i + 10]])
            analytics.notify(ROOM_ID)
        async with asyncio.timeout(20):
            while analytics.folded < 50:  # noqa: ASYNC110
                await asyncio.sleep(0.02)
        assert analytics.folded == 50 and sum(folds) == 50
        assert len(folds) <= 2, folds  # without the wait: a fold per commit (5)
        await analytics.close()
    finally:
        await store.close()

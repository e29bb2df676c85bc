"""SQLiteStore: append/read semantics, dedupe, positions, tokens, pins, retention, reopen."""

from __future__ import annotations

import asyncio
import sqlite3
from dataclasses import replace
from pathlib import Path

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from dylive.errors import StoreError
from dylive.store import Record, RoomRecord, SessionRecord, SQLiteStore
from dylive.store.cursor import (
    CursorError,
    make_cursor,
    make_internal_ext,
    parse_cursor,
    parse_internal_ext,
)
from dylive.store.migrations import SQLITE
from dylive.store.records import UpstreamPosition

BIG = 2**63 + 12345  # beyond signed 64 bits
ROOM = 6922580638159719176


def rec(msg_id: int, method: str = "WebcastChatMessage", room: int = ROOM) -> Record:
    body = orjson.dumps({"method": method, "msg_id": msg_id, "payload": {"room_id": room}})
    return Record(room, msg_id, method, 1, body, b"raw%d" % msg_id)


def store_elsewhere(path: Path, room: int, *, msg_id: int) -> None:
    """A row stored by another connection (as another process would), outside the store."""
    foreign = sqlite3.connect(path, isolation_level=None)
    try:
        foreign.execute(
            "INSERT INTO events (room_id, msg_id, method, created_at, stored_at, rendered,"
            " raw) VALUES (?, ?, 'WebcastChatMessage', 1, 1, x'7b7d', x'')",
            (room, msg_id),
        )
    finally:
        foreign.close()


async def test_append_dedupes_and_reads_in_order(tmp_path: Path) -> None:
    async with SQLiteStore(tmp_path / "s.db") as store:
        assert await store.append([rec(5), rec(3), rec(BIG)]) == 3
        assert await store.append([rec(3), rec(7)]) == 1
        page = await store.read(ROOM, 0, 10)
        assert [m.msg_id for m in page.messages] == [5, 3, BIG, 7]
        assert [m.seq for m in page.messages] == sorted(m.seq for m in page.messages)
        assert orjson.loads(page.messages[2].rendered)["msg_id"] == BIG
        nxt = await store.read(ROOM, page.messages[1].seq, 2)
        assert [m.msg_id for m in nxt.messages] == [BIG, 7]
        assert nxt.last_seq == page.last_seq
        assert (await store.read(ROOM, page.last_seq, 10)).messages == []
        assert (await store.read(ROOM + 1, 0, 10)).messages == []


async def test_methods_filter_lists_ignores(tmp_path: Path) -> None:
    async with SQLiteStore(tmp_path / "s.db") as store:
        await store.append(
            [rec(1), rec(2, "WebcastRoomUserSeqMessage"), rec(3), rec(4, "WebcastRoomMessage")]
        )
        page = await store.read(ROOM, 0, 10, frozenset({"WebcastChatMessage"}))
        assert [m.msg_id for m in page.messages] == [1, 3]
        assert page.ignored == ["WebcastRoomUserSeqMessage", "WebcastRoomMessage"]
        assert page.last_seq == await store.last_seq(ROOM)


async def test_backlog_start(tmp_path: Path) -> None:
    async with SQLiteStore(tmp_path / "s.db") as store:
        await store.append([rec(i) for i in range(1, 11)])
        start = await store.backlog_start(ROOM, 3)
        page = await store.read(ROOM, start, 50)
        assert [m.msg_id for m in page.messages] == [8, 9, 10]
        assert await store.backlog_start(ROOM, 50) == 0


async def test_wait_for_wakes_on_append(tmp_path: Path) -> None:
    async with SQLiteStore(tmp_path / "s.db") as store:
        assert not await store.wait_for(ROOM, 0, 0.01)
        waiter = asyncio.create_task(store.wait_for(ROOM, 0, 5))
        await asyncio.sleep(0.01)
        await store.append([rec(1)])
        assert await waiter


async def test_reopen_keeps_everything_and_seq_grows(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    async with SQLiteStore(path) as store:
        await store.append([rec(1), rec(2)])
        tid = await store.create_token("alice", "d" * 64, 2, 5.0)
        await store.set_position(tid, ROOM, 2, wait=True)
        await store.set_position(tid, ROOM, 1, wait=True)  # never moves back
        await store.upsert_room(RoomRecord(ROOM, web_rid="615189692839", status=2))
        await store.set_pin("615189692839", True)
        first_last = await store.last_seq(ROOM)
    async with SQLiteStore(path) as store:
        assert await store.last_seq(ROOM) == first_last
        await store.append([rec(3)])
        assert await store.last_seq(ROOM) > first_last
        token = await store.token_by_digest("d" * 64)
        assert token is not None and token.name == "alice" and token.room_limit == 2
        assert await store.get_position(token.id, ROOM) == 2
        room = await store.find_room(web_rid="615189692839")
        assert room is not None and room.room_id == ROOM
        assert (await store.find_room(room_id=ROOM)) == room
        assert await store.pins() == ["615189692839"]
        await store.set_pin("615189692839", False)
        assert await store.pins() == []
        assert await store.revoke_token("alice") == 1
        assert await store.revoke_token("alice") == 0
        revoked = await store.token_by_digest("d" * 64)
        assert revoked is not None and not revoked.active
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA user_version").fetchone()[0] == len(SQLITE)
    conn.close()


async def test_prune_keeps_seq_monotonic(tmp_path: Path) -> None:
    async with SQLiteStore(tmp_path / "s.db") as store:
        await store.append([rec(1), rec(2)])
        last = await store.last_seq(ROOM)
        assert await store.prune(2**62) == 2
        await store.append([rec(3)])
        page = await store.read(ROOM, 0, 10)
        assert [m.msg_id for m in page.messages] == [3]
        assert page.messages[0].seq > last


async def test_messages_of_returns_raw(tmp_path: Path) -> None:
    async with SQLiteStore(tmp_path / "s.db") as store:
        await store.append([rec(1, "WebcastGiftMessage"), rec(2), rec(3, "WebcastGiftMessage")])
        rows = await store.messages_of(ROOM, ["WebcastGiftMessage"], 0)
        assert [(m, r) for _, _, m, r in rows] == [
            ("WebcastGiftMessage", b"raw1"),
            ("WebcastGiftMessage", b"raw3"),
        ]


def test_cursor_round_trip() -> None:
    cur = make_cursor(1611801897133, 6922636435245915553, 42)
    assert cur == "1611801897133_6922636435245915553_42_1"
    assert parse_cursor(cur).seq == 42
    ext = make_internal_ext(1611801897133, 1611801885555, cur, 42)
    assert ext.startswith("fetch_time:1611801897133|start_time:1611801885555|")
    assert f"|next_cursor:{cur}|" in ext
    assert parse_internal_ext(ext).seq == 42
    for bad in ("", "abc", "1_2_3", "1_2_x_1"):
        with pytest.raises(CursorError):
            parse_cursor(bad)
    with pytest.raises(CursorError):
        parse_internal_ext("fetch_time:1|door:1")


def _spelled_cursor(cursor: str) -> tuple[int, int, int] | None:
    """The cursor rule spelled out: four runs of 1..20 ASCII digits, seq within signed and
    msg_id within unsigned 64 bits; (now, msg_id, seq) or None."""
    parts = cursor.strip().split("_")
    if len(parts) != 4 or not all(p.isascii() and p.isdigit() and len(p) <= 20 for p in parts):
        return None
    now, msg_id, seq = (int(p) for p in parts[:3])
    return (now, msg_id, seq) if seq < 2**63 and msg_id < 2**64 else None


@given(
    st.lists(
        st.sampled_from(["0", "1", "42", "9" * 19, "9" * 20, "9" * 21, "", " ", "x", "٣", "²",
                         "１", "\n", "-1", "18446744073709551616", "9223372036854775808"]),
        min_size=1,
        max_size=6,
    ).map("_".join)
)  # fmt: skip
def test_cursors_parse_by_the_rule(cursor: str) -> None:
    want = _spelled_cursor(cursor)
    try:
        got = parse_cursor(cursor)
    except CursorError:
        assert want is None
    else:
        assert want == (got.now, got.msg_id, got.seq)


async def test_a_bad_append_in_a_batch_of_appends_fails_alone(tmp_path: Path) -> None:
    """Appends batched together run without a savepoint each; when one of them fails, the
    batch runs again with one per op: that append fails alone, whole (its rows and its
    position), the others are stored once (token positions too), and the tail cache holds
    what was committed."""
    other = ROOM + 1
    poison = Record(ROOM, 3, "WebcastChatMessage", 2**64 - 1, b"{}", b"x")  # created_at: int64
    async with SQLiteStore(tmp_path / "s.db") as store:
        await store.append([rec(1), rec(1, room=other)], position=UpstreamPosition(ROOM, "p", "c1"))
        batches = store.batches
        results = await asyncio.gather(
            store.set_position(9, ROOM, 41, wait=False),  # written by the next one
            store.set_position(9, other, 42, wait=True),  # runs before the bad append
            store.append([rec(2)], position=UpstreamPosition(ROOM, "p", "c2")),
            store.append([rec(4), poison, rec(5)], position=UpstreamPosition(ROOM, "p", "bad")),
            store.append([rec(2, room=other), rec(3, room=other)]),
            store.append([rec(6)]),
            return_exceptions=True,
        )
        assert store.batches == batches + 1  # these writes: one batch, committed once
        bad = results.pop(3)
        assert results == [None, None, 1, 2, 1]
        assert isinstance(bad, StoreError) and not bad.transient
        cached = {room: (await store.read(room, 0, 10)).messages for room in (ROOM, other)}
        assert [m.msg_id for m in cached[ROOM]] == [1, 2, 6]
        assert [m.msg_id for m in cached[other]] == [1, 2, 3]
        assert await store.last_seq(ROOM) == cached[ROOM][-1].seq
        position = await store.upstream_position(ROOM)
        assert position is not None and position.cursor == "c2"
    async with SQLiteStore(tmp_path / "s.db", tail_size=0) as again:  # the rows on disk
        for room, messages in cached.items():
            assert (await again.read(room, 0, 10)).messages == messages
        # the token positions taken by the batch's first run were written by its second
        assert [await again.get_position(9, room) for room in (ROOM, other)] == [41, 42]


async def test_session_saves_and_room_upserts_leave_a_batch_of_appends_unguarded(
    tmp_path: Path,
) -> None:
    """One statement each, session saves and room upserts are pure like appends: a batch mixing
    them runs without a savepoint per op (analytics saves sessions all the time: one op needing
    a savepoint would put every append of its batch under one), and a save that fails still
    fails alone."""
    other = ROOM + 1
    async with SQLiteStore(tmp_path / "s.db") as store:
        session = await store.open_session(SessionRecord(0, ROOM, started_at=1))
        statements: list[str] = []
        assert store._wconn is not None
        store._wconn.set_trace_callback(statements.append)  # called on the writer thread
        batches = store.batches
        saved = replace(session, last_seq=1, report=b"r1")
        results = await asyncio.gather(
            store.append([rec(1)], position=UpstreamPosition(ROOM, "p", "c1")),
            store.save_session(saved, 0),
            store.upsert_room(RoomRecord(other, "w", 1)),
            store.append([rec(1, room=other)]),
        )
        assert results == [1, True, None, 1] and store.batches == batches + 1
        assert statements and not [s for s in statements if "SAVEPOINT" in s]
        # a save that cannot be stored (an int64 overflow): the batch runs again guarded
        statements.clear()
        results = await asyncio.gather(
            store.append([rec(2)]),
            store.save_session(replace(saved, last_seq=2, started_at=2**64), 1),
            store.append([rec(2, room=other)]),
            return_exceptions=True,
        )
        bad = results[1]
        assert results[0] == results[2] == 1
        assert isinstance(bad, StoreError) and not bad.transient
        assert [s for s in statements if s.startswith("SAVEPOINT")]
        store._wconn.set_trace_callback(None)
        got = await store.get_session(room_id=ROOM)
        assert got is not None and (got.last_seq, got.report) == (1, b"r1")
        for room in (ROOM, other):
            assert [m.msg_id for m in (await store.read(room, 0, 10)).messages] == [1, 2]


async def test_a_locked_database_is_a_transient_error_and_the_write_succeeds_later(
    tmp_path: Path,
) -> None:
    """Another process holding the write lock: the append fails as transient (retry it)."""
    path = tmp_path / "locked.db"
    async with SQLiteStore(path, busy_timeout=0.05) as store:
        await store.append([rec(1)])
        other = sqlite3.connect(path, isolation_level=None)
        other.execute("BEGIN EXCLUSIVE")
        try:
            with pytest.raises(StoreError) as info:
                await store.append([rec(2)])
            assert info.value.transient
        finally:
            other.execute("ROLLBACK")
            other.close()
        assert await store.append([rec(2)]) == 1
        assert [m.msg_id for m in (await store.read(ROOM, 0, 9)).messages] == [1, 2]


async def test_page_size_applies_to_new_databases_only(tmp_path: Path) -> None:
    """A new database gets the engine's page size and checkpoints after the same WAL bytes;
    an existing one keeps the page size it was created with."""
    path = tmp_path / "p.sqlite3"
    async with SQLiteStore(path, page_size=16384, wal_autocheckpoint=10_000) as store:
        conn = store._wconn
        assert conn is not None
        assert conn.execute("PRAGMA page_size").fetchone()[0] == 16384
        # the checkpointer restarts the WAL at 2,500 pages; the writer's own checkpoint is the
        # safety net at four times that
        assert store.checkpointer is not None and store.checkpointer._restart == 2_500
        assert conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 10_000
    async with SQLiteStore(path, page_size=4096) as store:
        conn = store._wconn
        assert conn is not None
        assert conn.execute("PRAGMA page_size").fetchone()[0] == 16384
    async with SQLiteStore(tmp_path / "d.sqlite3") as store:
        conn = store._wconn
        assert conn is not None
        assert conn.execute("PRAGMA page_size").fetchone()[0] == 4096
        assert store.checkpointer is not None and store.checkpointer._restart == 10_000
        assert conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 40_000
    async with SQLiteStore(tmp_path / "e.sqlite3", background_checkpoints=False) as store:
        conn = store._wconn
        assert conn is not None and store.checkpointer is None
        assert conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 10_000


async def test_bytes_are_stored_as_the_same_blobs(tmp_path: Path) -> None:
    """The bytes adapter (``sqlite.events``) binds the value itself: NUL bytes, an empty raw, a
    bytes subclass and a bytearray all come back as the same BLOB, read by another connection."""

    class Sub(bytes):
        pass

    raws = [b"a\x00b\xff", b"", Sub(b"sub"), bytes(range(256)) * 4]
    async with SQLiteStore(tmp_path / "s.db") as store:
        records = [replace(rec(i + 1), raw=raw) for i, raw in enumerate(raws)]
        assert await store.append(records) == len(raws)
        got = await store.messages_of(ROOM, ["WebcastChatMessage"], 0)
    assert [raw for *_, raw in got] == [bytes(r) for r in raws]
    conn = sqlite3.connect(tmp_path / "s.db")
    try:
        kinds = conn.execute("SELECT typeof(raw), typeof(rendered) FROM events").fetchall()
        assert conn.execute("SELECT quote(raw) FROM events WHERE length(raw) = 0").fetchall() == [
            ("X''",)
        ]
        blob = conn.execute("SELECT typeof(?)", (bytearray(b"x"),)).fetchone()[0]
    finally:
        conn.close()
    assert kinds == [("blob", "blob")] * len(raws) and blob == "blob"


async def test_a_batch_of_appends_goes_in_together_and_each_gets_its_own_count(
    tmp_path: Path,
) -> None:
    """The appends of an unguarded batch run together (``sqlite.appends.run_appends``): one
    insert of every row, one of every position (statements of 1, 2, 4, ... rows), one
    ``last_insert_rowid()``. Each append still
    gets what it would get alone: its count, the last position of a room wins, the tail cache
    its rows; a duplicate across two appends of a batch (the first stores it) runs the batch
    again with each append alone."""
    other = ROOM + 1
    async with SQLiteStore(tmp_path / "s.db") as store:
        await store.append([rec(1)])
        statements: list[str] = []
        assert store._wconn is not None
        store._wconn.set_trace_callback(statements.append)  # called on the writer thread
        batches = store.batches
        results = await asyncio.gather(
            store.append([rec(2), rec(3)], position=UpstreamPosition(ROOM, "p", "c3")),
            store.append([rec(2, room=other)], position=UpstreamPosition(other, "p", "o2")),
            store.append([rec(4)], position=UpstreamPosition(ROOM, "p", "c4")),
        )
        assert results == [2, 1, 1] and store.batches == batches + 1
        events = [s for s in statements if "INTO events" in s]
        positions = [s for s in statements if "INTO upstream_positions" in s]
        assert len(events) == 1 and len(positions) == 2  # 4 rows; 3 positions: 2 + 1
        assert sum("last_insert_rowid" in s for s in statements) == 1
        position = await store.upstream_position(ROOM)
        assert position is not None and position.cursor == "c4"  # the batch's last of the room
        statements.clear()
        results = await asyncio.gather(
            store.append([rec(5), rec(6)], position=UpstreamPosition(ROOM, "p", "c6")),
            store.append([rec(6), rec(7)], position=UpstreamPosition(ROOM, "p", "c7")),
            store.append([rec(3, room=other)]),
        )
        assert results == [2, 1, 1]
        assert [s for s in statements if s.startswith("SAVEPOINT")]  # run again, each alone
        store._wconn.set_trace_callback(None)
        cached = {room: (await store.read(room, 0, 10)).messages for room in (ROOM, other)}
        assert [m.msg_id for m in cached[ROOM]] == [1, 2, 3, 4, 5, 6, 7]
        assert [m.msg_id for m in cached[other]] == [2, 3]
        position = await store.upstream_position(ROOM)
        assert position is not None and position.cursor == "c7"
        other_position = await store.upstream_position(other)
        assert other_position is not None and other_position.cursor == "o2"
    async with SQLiteStore(tmp_path / "s.db", tail_size=0) as again:  # the rows on disk
        for room, messages in cached.items():
            assert (await again.read(room, 0, 10)).messages == messages


async def test_a_row_another_process_stored_is_published_by_the_next_commit(
    tmp_path: Path,
) -> None:
    """A commit of appends alone publishes the rooms' new seqs from the rows it built (no SELECT)
    only when its rows follow the last seq it knew without a gap: a row stored in between by
    another connection (another process) is still found and published (last seq, reads)."""
    other = ROOM + 1
    async with SQLiteStore(tmp_path / "s.db") as store:
        await store.append([rec(1)])
        statements: list[str] = []
        assert store._wconn is not None
        store._wconn.set_trace_callback(statements.append)  # called on the writer thread
        await store.append([rec(2)])
        assert not [s for s in statements if "GROUP BY" in s]  # followed: no SELECT
        store_elsewhere(tmp_path / "s.db", other, msg_id=7)
        await store.append([rec(3)])
        assert [s for s in statements if "GROUP BY" in s]
        store._wconn.set_trace_callback(None)
        seq = await store.last_seq(other)
        assert seq and [m.msg_id for m in (await store.read(other, 0, 10)).messages] == [7]
        assert await store.last_seq(ROOM) > seq


async def test_a_commit_without_rows_still_finds_a_row_another_process_stored(
    tmp_path: Path,
) -> None:
    """A batch of appends with no rows (a position alone) inserted nothing, so
    ``last_insert_rowid()`` was the connection's last insert of an earlier commit: it equalled
    the last seq known, the rows "followed", and the commit skipped the SELECT of new rows; a row
    another process stored meanwhile was not published (``last_seq`` 0, reads empty) until a
    commit with rows came (found in review)."""
    other = ROOM + 1
    async with SQLiteStore(tmp_path / "s.db") as store:
        await store.append([rec(1)])
        assert (await store.read(other, 0, 10)).messages == []  # the tail knows the room
        store_elsewhere(tmp_path / "s.db", other, msg_id=7)
        await store.append([], position=UpstreamPosition(ROOM, "p", "c"))
        assert await store.last_seq(other) == 2
        assert [m.msg_id for m in (await store.read(other, 0, 10)).messages] == [7]


async def test_rows_go_in_in_order_whatever_the_statement_sizes(tmp_path: Path) -> None:
    """``sqlite.appends.insert`` splits rows into statements of 64, 32, ... 1 rows: 127 rows
    (every size once) and a batch of appends of 1 to 9 rows keep their order, their counts and
    the tail cache's seqs (compared with the rows on disk)."""
    async with SQLiteStore(tmp_path / "s.db") as store:
        assert await store.append([rec(i) for i in range(1, 128)]) == 127
        sizes = list(range(1, 10))
        first = 1000
        batches = store.batches
        results = await asyncio.gather(
            *(
                store.append([rec(first + 100 * n + i) for i in range(n)], position=None)
                for n in sizes
            )
        )
        assert results == sizes and store.batches == batches + 1
        cached = (await store.read(ROOM, 0, 1000)).messages
    want = list(range(1, 128)) + [first + 100 * n + i for n in sizes for i in range(n)]
    assert [m.msg_id for m in cached] == want
    async with SQLiteStore(tmp_path / "s.db", tail_size=0) as again:
        assert (await again.read(ROOM, 0, 1000)).messages == cached

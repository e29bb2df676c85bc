"""``dylive export --format parquet``: typed columns, exact 64-bit ids, user and gift fields,
on both backends; a clear error without --output."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from dylive.analytics.parquet import GIFT, USER, export_parquet, schema
from dylive.cli import main
from dylive.decode import GiftLedger, decode, render
from dylive.decode.events import GiftEvent
from dylive.errors import StoreError
from dylive.sim.offline import broadcast
from dylive.store import Record, RoomRecord, open_store
from dylive.store.export import TimeWindow
from dylive.store.postgres.bulk import AdbcPages
from dylive.wire.frames import RawMessage

ROOM_ID = 7439018246715328306
WEB_RID = "80017709309"
BIG = 2**63 + 7  # beyond int64: uint64 columns keep it exact


def records() -> list[Record]:
    out = []
    for e in broadcast(WEB_RID, ROOM_ID, 60, rate=20.0, seed=4):
        event = decode(RawMessage(e.method, e.msg_id, e.payload or b""), room_id=ROOM_ID)
        out.append(
            Record(ROOM_ID, e.msg_id, e.method, e.created_at, orjson.dumps(render(event)), b"")
        )
    big = orjson.dumps({"method": "WebcastChatMessage", "msg_id": BIG, "payload": {}})
    out.append(Record(ROOM_ID, BIG, "WebcastChatMessage", 0, big, b""))
    return out


async def fill(url: str, recs: list[Record]) -> None:
    async with open_store(url) as store:
        await store.upsert_room(RoomRecord(ROOM_ID, WEB_RID, 2))
        await store.append(recs)


def test_parquet_export(store_url: str, tmp_path: Path) -> None:
    recs = records()
    asyncio.run(fill(store_url, recs))
    out = tmp_path / "m.parquet"
    assert (
        main(
            ["export", "--db", store_url, "--room", WEB_RID, "--format", "parquet", "-o", str(out)]
        )
        == 0
    )
    table = pq.read_table(out)
    assert table.num_rows == len(recs)
    types = dict(zip(table.schema.names, table.schema.types, strict=True))
    assert types["msg_id"] == pa.uint64() and types["seq"] == pa.int64()
    assert types["created_at"] == pa.timestamp("ms", tz="UTC")
    assert types["user_uid"] == pa.uint64() and types["gift_diamond_count"] == pa.int64()
    rows = table.to_pylist()
    assert [r["msg_id"] for r in rows] == [r.msg_id for r in recs]
    assert rows[-1]["msg_id"] == BIG and rows[-1]["created_at"] is None
    gifts = [r for r in rows if r["method"] == "WebcastGiftMessage"]
    assert gifts and all(r["gift_id"] and r["gift_name"] and r["user_uid"] for r in gifts)
    chats = [r for r in rows[:-1] if r["method"] == "WebcastChatMessage"]
    assert chats and all(r["content"] and r["user_nickname"] for r in chats)
    assert all(r["gift_id"] is None for r in chats)


def test_parquet_needs_a_file(tmp_path: Path, capsys: object) -> None:
    db = str(tmp_path / "p.db")
    asyncio.run(fill(db, records()[:5]))
    assert main(["export", "--db", db, "--room", WEB_RID, "--format", "parquet"]) == 2
    assert "--output" in capsys.readouterr().err  # type: ignore[attr-defined]


def test_unusual_json_falls_back_to_a_row_by_row_parse(store_url: str, tmp_path: Path) -> None:
    db = store_url
    odd = orjson.dumps({"payload": {"user": {"uid": "not a number", "nickname": "x"}}})
    good = orjson.dumps({"payload": {"content": "hi", "user": {"uid": 5, "nickname": "y"}}})
    recs = [
        Record(ROOM_ID, 1, "WebcastChatMessage", 1, odd, b""),
        Record(ROOM_ID, 2, "WebcastChatMessage", 2, good, b""),
        Record(ROOM_ID, 3, "WebcastChatMessage", 3, b"not json", b""),
    ]
    asyncio.run(fill(db, recs))
    out = tmp_path / "u.parquet"
    assert (
        main(["export", "--db", db, "--room", WEB_RID, "--format", "parquet", "-o", str(out)]) == 0
    )
    rows = pq.read_table(out).to_pylist()
    assert [r["msg_id"] for r in rows] == [1, 2, 3]
    assert rows[1]["content"] == "hi" and rows[1]["user_nickname"] == "y"
    assert rows[0]["user_nickname"] == "x" and rows[2]["content"] is None


UTC_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def mixed_records() -> list[Record]:
    """A mixed broadcast as the collector stores it (gifts with the ledger's delta), with unknown
    methods, a method name that needs JSON escaping, no time, and a msg_id beyond int64."""
    ledger = GiftLedger()
    out = []
    for e in broadcast(WEB_RID, ROOM_ID, 60, rate=20.0, seed=11):
        event = decode(RawMessage(e.method, e.msg_id, e.payload or b""), room_id=ROOM_ID)
        if isinstance(event, GiftEvent):
            event = ledger.apply(event)
        rendered = orjson.dumps(render(event))
        out.append(Record(ROOM_ID, e.msg_id, e.method, e.created_at, rendered, b""))
    for i, method in enumerate(("WebcastMysteryMessage", 'Webcast"Odd\\Method\n')):
        event = decode(RawMessage(method, 900 + i, b"\x08\x01"), room_id=ROOM_ID)
        out.insert(
            100 * (i + 1), Record(ROOM_ID, 900 + i, method, 0, orjson.dumps(render(event)), b"")
        )
    big = orjson.dumps({"method": "WebcastChatMessage", "msg_id": BIG, "payload": {}})
    out.append(Record(ROOM_ID, BIG, "WebcastChatMessage", 1_700_000_000_123, big, b""))
    return out


def expected_row(seq: int, rec: Record) -> dict[str, object]:
    """One exported row computed from the stored message by hand (orjson, field by field)."""
    payload = orjson.loads(rec.rendered)["payload"]
    user, gift = payload.get("user") or {}, payload.get("gift") or {}
    created = UTC_EPOCH + timedelta(milliseconds=rec.created_at) if rec.created_at else None
    row: dict[str, object] = {
        "seq": seq,
        "msg_id": rec.msg_id,
        "room_id": ROOM_ID,
        "method": rec.method,
        "created_at": created,
    }
    for name, _, key in USER:
        row[name] = user.get(key)
    row["content"] = payload.get("content")
    for name, _, key in GIFT:
        row[name] = gift.get(key)
    return row


async def stored_and_export(
    url: str, recs: list[Record], out: Path, **options: Any
) -> list[dict[str, object]]:
    """Store ``recs``, export them in small pages (several row groups, the pipelined read) and
    return the expected rows of every stored message (seq from the store)."""
    async with open_store(url) as store:
        await store.upsert_room(RoomRecord(ROOM_ID, WEB_RID, 2))
        await store.append(recs)
        rows = await store.scan(ROOM_ID, 0, len(recs) + 1, rendered=True)
        assert await export_parquet(store, ROOM_ID, out, page_size=97, **options) >= 0
    by_id = {r.msg_id: r for r in recs}
    return [expected_row(seq, by_id[msg_id]) for seq, msg_id, *_ in rows]


def test_every_column_matches_the_stored_messages(
    store_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    recs = mixed_records()
    out = tmp_path / "all.parquet"
    with caplog.at_level(logging.INFO, logger="dylive.analytics.parquet"):
        expected = asyncio.run(stored_and_export(store_url, recs, out))
    assert "row by row" not in caplog.text  # every page took the bulk path
    table = pq.read_table(out)
    assert table.schema == schema()
    assert table.column_names == [f.name for f in schema()]
    assert pq.ParquetFile(out).metadata.num_row_groups == -(-len(recs) // 97)
    rows = table.to_pylist()
    assert len(rows) == len(recs) == len(expected)
    for got, want in zip(rows, expected, strict=True):
        assert got == want, (got, want)
    methods = {r["method"] for r in rows}
    assert {"WebcastGiftMessage", "WebcastLikeMessage", "WebcastMemberMessage"} <= methods
    assert {"WebcastMysteryMessage", 'Webcast"Odd\\Method\n'} <= methods
    gifts = [r for r in rows if r["method"] == "WebcastGiftMessage"]
    assert gifts and all(isinstance(r["gift_delta"], int) for r in gifts)
    assert sum(r["gift_delta"] for r in gifts) > 0  # type: ignore[misc]
    assert rows[-1]["msg_id"] == BIG


def test_methods_and_window_keep_what_they_name(store_url: str, tmp_path: Path) -> None:
    recs = mixed_records()
    stamps = sorted(r.created_at for r in recs if r.created_at)
    window = TimeWindow(stamps[len(stamps) // 4], stamps[3 * len(stamps) // 4])
    wanted = frozenset({"WebcastGiftMessage", "WebcastLikeMessage", "WebcastMysteryMessage"})
    out = tmp_path / "some.parquet"
    expected = asyncio.run(stored_and_export(store_url, recs, out, methods=wanted, window=window))
    stamp_of = {r.msg_id: r.created_at for r in recs}
    keep = [
        r for r in expected if r["method"] in wanted and stamp_of[int(str(r["msg_id"]))] in window
    ]
    rows = pq.read_table(out).to_pylist()
    assert rows == keep
    assert {r["method"] for r in rows} == {"WebcastGiftMessage", "WebcastLikeMessage"}
    assert 0 < len(rows) < len(expected) // 2


def test_a_rejected_page_is_parsed_row_by_row_among_good_pages(
    store_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    recs = mixed_records()[:300]
    bad = Record(ROOM_ID, 77, "WebcastChatMessage", 5, b'{"payload":{"content":7}}', b"")
    recs.insert(150, bad)  # page 2 of 97-row pages: Arrow rejects it (content not a string)
    two_lines = b'{"payload":\n{"content":"two lines"}}'  # valid JSON on two lines: Arrow reads it
    recs.insert(250, Record(ROOM_ID, 78, "WebcastChatMessage", 6, two_lines, b""))
    out = tmp_path / "mixed.parquet"
    with caplog.at_level(logging.INFO, logger="dylive.analytics.parquet"):
        expected = asyncio.run(stored_and_export(store_url, recs, out))
    assert caplog.text.count("row by row") == 1  # that page only
    rows = pq.read_table(out).to_pylist()
    assert len(rows) == len(recs)
    assert rows[150]["msg_id"] == 77 and rows[150]["content"] is None
    assert rows[250]["msg_id"] == 78 and rows[250]["content"] == "two lines"
    expected[150]["content"] = None  # the row parse keeps strings only
    assert rows == expected


@pytest.mark.postgres
def test_postgres_bulk_reader_and_aggregates_write_the_same_file(
    pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ADBC's Arrow pages (the dev extra has the driver) and psycopg's JSON aggregates (the
    path without it) give byte-identical files."""
    recs = mixed_records()

    async def both() -> tuple[bytes, bytes]:
        async with open_store(pg_url) as store:
            await store.upsert_room(RoomRecord(ROOM_ID, WEB_RID, 2))
            await store.append(recs)
            assert isinstance(store.arrow_pages(), AdbcPages)
            await export_parquet(store, ROOM_ID, tmp_path / "arrow.parquet", page_size=97)
            monkeypatch.setattr(store, "arrow_pages", lambda: None)
            await export_parquet(store, ROOM_ID, tmp_path / "json.parquet", page_size=97)
        return (tmp_path / "arrow.parquet").read_bytes(), (tmp_path / "json.parquet").read_bytes()

    arrow, json = asyncio.run(both())
    assert arrow == json
    assert pq.read_table(pa.BufferReader(arrow)).num_rows == len(recs)


def test_bulk_reader_errors_are_store_errors(unused_tcp_port: int) -> None:
    async def run() -> None:
        with pytest.raises(StoreError, match="cannot connect"):
            await AdbcPages(f"postgresql://postgres@127.0.0.1:{unused_tcp_port}/x").open()
        with pytest.raises(StoreError, match="closed"):
            await AdbcPages("postgresql://unused").read(ROOM_ID, 0, 10)

    asyncio.run(run())


@pytest.mark.postgres
def test_an_export_cancelled_during_a_bulk_read_closes_cleanly(
    pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The bulk reader's connection is closed only after the read still running in its thread
    (closing it under the read would crash the process); the store stays usable."""
    recs = mixed_records()
    reads = 0
    second = asyncio.Event()
    read = AdbcPages.read

    async def counted(self: AdbcPages, room_id: int, after_seq: int, limit: int) -> Any:
        nonlocal reads
        reads += 1
        if reads == 2:
            second.set()
        return await read(self, room_id, after_seq, limit)

    monkeypatch.setattr(AdbcPages, "read", counted)

    async def run() -> None:
        async with open_store(pg_url) as store:
            await store.upsert_room(RoomRecord(ROOM_ID, WEB_RID, 2))
            await store.append(recs)
            task = asyncio.create_task(
                export_parquet(store, ROOM_ID, tmp_path / "c.parquet", page_size=50)
            )
            await second.wait()
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            assert await export_parquet(store, ROOM_ID, tmp_path / "d.parquet") == len(recs)

    asyncio.run(run())

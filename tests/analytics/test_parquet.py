"""``dylive export --format parquet``: typed columns, exact 64-bit ids, user and gift fields,
on both backends; a clear error without --output."""

from __future__ import annotations

import asyncio
from pathlib import Path

import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from dylive.cli import main
from dylive.decode import decode, render
from dylive.sim.offline import broadcast
from dylive.store import Record, RoomRecord, open_store
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


def test_unusual_json_falls_back_to_a_row_by_row_parse(tmp_path: Path) -> None:
    db = str(tmp_path / "u.db")
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

"""CSV for spreadsheet users (Excel on Chinese Windows): a byte-order mark on request, times as
ISO-8601 with their offset (exact milliseconds beside them), a diamonds column, and exports cut
to one broadcast (``--session``) or a time range (``--from``/``--to``); the report's CSV and
Markdown show readable times too."""

from __future__ import annotations

import asyncio
import csv
import io
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from dylive.analytics import build_report, to_csv, to_markdown
from dylive.analytics.tally import SessionTally
from dylive.cli import main
from dylive.store import Record, RoomRecord, SessionRecord, open_store
from dylive.store.export import TimeWindow, parse_time

ROOM_A, ROOM_B = 7713439806789773866, 7439018246715328306
T0 = 1611801897133  # 2021-01-28T02:44:57.133Z = 10:44:57.133 in Shanghai


@pytest.fixture
def shanghai(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The process's local time zone is Asia/Shanghai (UTC+8, no daylight saving)."""
    monkeypatch.setenv("TZ", "Asia/Shanghai")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def gift(msg_id: int, room: int, at: int, delta: int | None, price: int) -> Record:
    g: dict[str, Any] = {"id": 1, "name": "小心心", "count": 9, "diamond_count": price}
    if delta is not None:
        g["delta"] = delta
    payload = {"gift": g, "user": {"uid": 5, "nickname": "若他"}, "content": "送出 小心心"}
    body = orjson.dumps({"method": "WebcastGiftMessage", "msg_id": msg_id, "payload": payload})
    return Record(room, msg_id, "WebcastGiftMessage", at, body, b"raw")


def chat(msg_id: int, room: int, at: int) -> Record:
    payload = {"content": "想要长款连衣裙", "user": {"uid": 6, "nickname": "张三"}}
    body = orjson.dumps({"method": "WebcastChatMessage", "msg_id": msg_id, "payload": payload})
    return Record(room, msg_id, "WebcastChatMessage", at, body, b"raw")


MINUTE = 60_000
RECORDS = [
    gift(1, ROOM_A, T0, 3, 5),  # 15 diamonds
    chat(2, ROOM_A, T0 + MINUTE),
    gift(3, ROOM_A, T0 + 2 * MINUTE, None, 5),  # no delta stored: no diamonds claimed
    chat(4, ROOM_A, T0 + 3 * MINUTE),
    chat(5, ROOM_B, T0 + MINUTE),
]


@pytest.fixture
def db(tmp_path: Path) -> str:
    path = str(tmp_path / "x.sqlite3")

    async def fill() -> None:
        async with open_store(path) as store:
            await store.upsert_room(RoomRecord(ROOM_A, web_rid="615189692839", status=2))
            await store.upsert_room(RoomRecord(ROOM_B, web_rid="80017709309", status=2))
            await store.append(RECORDS)
            for room in (ROOM_A, ROOM_B):
                await store.open_session(SessionRecord(id=0, room_id=room, started_at=T0))

    asyncio.run(fill())
    return path


async def _session_id(db: str, room: int) -> int:
    async with open_store(db) as store:
        session = await store.get_session(room_id=room)
        assert session is not None
        return session.id


def export(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["export", *args])
    out, err = capsys.readouterr()
    return code, out, err


def rows_of(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_bytes().decode("utf-8-sig"), newline="")))


def test_bom_readable_times_and_diamonds(
    db: str, tmp_path: Path, shanghai: None, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "a.csv"
    args = ["--db", db, "--room", "615189692839", "--format", "csv", "-o", str(out)]
    assert export(capsys, *args, "--bom")[0] == 0
    assert out.read_bytes().startswith(b"\xef\xbb\xbfseq,msg_id,")  # Excel reads UTF-8
    rows = rows_of(out)
    assert [r["created_at"] for r in rows[:2]] == [
        "2021-01-28T10:44:57.133+08:00",
        "2021-01-28T10:45:57.133+08:00",
    ]
    assert rows[0]["created_at_ms"] == str(T0)
    assert [r["gift_diamonds"] for r in rows] == ["15", "", "", ""]
    assert rows[0]["user_nickname"] == "若他"
    assert export(capsys, *args)[0] == 0
    assert out.read_bytes().startswith(b"seq,")  # no BOM unless asked
    code, _, err = export(capsys, "--db", db, "--room", "615189692839", "--bom")
    assert code == 2 and err.strip() == "dylive export: --bom is for --format csv"


def test_time_range(db: str, shanghai: None, capsys: pytest.CaptureFixture[str]) -> None:
    base = ["--db", db, "--room", str(ROOM_A)]

    def ids(*extra: str) -> list[int]:
        code, out, err = export(capsys, *base, *extra)
        assert code == 0, err
        return [orjson.loads(line)["msg_id"] for line in out.splitlines()]

    assert ids("--from", "2021-01-28T10:45:00") == [2, 3, 4]  # local time (Shanghai)
    assert ids("--from", "2021-01-28T02:45:00Z", "--to", "2021-01-28T02:47:57.133Z") == [2, 3]
    assert ids("--to", str(T0 + MINUTE)) == [1]  # epoch ms; --to is exclusive
    assert ids("--from", "2021-01-29") == []
    assert ids("--from", "2021-01-28 10:46:57.133+08:00", "--methods", "chat") == [4]
    code, _, err = export(capsys, *base, "--from", "yesterday")
    assert code == 2 and "'yesterday' is not a time" in err and len(err.splitlines()) == 1
    code, _, err = export(capsys, *base, "--from", "2021-01-29", "--to", "2021-01-28")
    assert code == 2 and "--to must be later than --from" in err


def test_one_broadcast(db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    session_b = asyncio.run(_session_id(db, ROOM_B))
    code, out, err = export(capsys, "--db", db, "--session", str(session_b))
    assert code == 0, err
    assert [orjson.loads(line)["msg_id"] for line in out.splitlines()] == [5]
    parquet = tmp_path / "b.parquet"
    pytest.importorskip("pyarrow")
    args = ["--db", db, "--session", str(asyncio.run(_session_id(db, ROOM_A)))]
    code, _, err = export(capsys, *args, "--format", "parquet", "-o", str(parquet))
    assert code == 0 and "4 messages" in err, err
    code, _, err = export(capsys, *args, "--format", "parquet", "-o", str(parquet), "--to", "1")
    assert code == 0 and "0 messages" in err, err
    code, _, err = export(capsys, "--db", db, "--session", "999")
    assert code == 2 and err.strip() == "dylive export: no session 999"
    code, _, err = export(capsys, "--db", db)
    assert code == 2 and "give --room ROOM or --session ID" in err


def test_parse_time_and_window(shanghai: None) -> None:
    assert parse_time("2021-01-28T10:44:57.133+08:00") == T0
    assert parse_time("2021-01-28T10:44:57.133") == T0  # local
    assert parse_time(str(T0)) == T0
    window = TimeWindow(T0, T0 + 1)
    assert T0 in window and T0 + 1 not in window and T0 - 1 not in window
    assert T0 + 10**9 in TimeWindow(T0)  # open end


def test_report_times_are_readable(shanghai: None, capsys: pytest.CaptureFixture[str]) -> None:
    tally = SessionTally()
    tally.add(1, 11, "WebcastChatMessage", T0, {"user": {"uid": 7}})
    session = SessionRecord(id=1, room_id=5, started_at=T0, ended_at=T0 + 3_600_000)
    report = build_report(session, tally)
    rows = list(csv.reader(io.StringIO(to_csv(report))))
    assert ["session", "started_at", "2021-01-28T10:44:57.133+08:00"] in rows
    assert ["session", "started_at_ms", str(T0)] in rows
    assert ["session", "ended_at", "2021-01-28T11:44:57.133+08:00"] in rows
    minute = next(r for r in rows if r[0] == "minute")
    assert minute[:2] == ["minute", "2021-01-28T10:44:00.000+08:00"]
    assert "started 2021-01-28T10:44:57.133+08:00, ended 2021-01-28T11:44:57.133" in to_markdown(
        report
    )
    assert report["session"]["started_at"] == T0  # the JSON keeps epoch milliseconds


def test_report_bom(db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "r.csv"
    args = ["report", "--room", str(ROOM_B), "--db", db, "--format", "csv", "-o", str(out)]
    assert main([*args, "--bom"]) == 0
    assert out.read_bytes().startswith(b"\xef\xbb\xbfsection,key,value")
    assert main(["report", "--room", str(ROOM_B), "--db", db, "--bom"]) == 2
    assert "--bom is for --format csv" in capsys.readouterr().err

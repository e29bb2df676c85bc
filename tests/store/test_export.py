"""``dylive export``: JSON lines and CSV from SQLite and PostgreSQL, paging, errors."""

from __future__ import annotations

import asyncio
import csv
import io
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from dylive.cli import main
from dylive.decode.methods import method_names
from dylive.store import Page, Record, RoomRecord, SQLiteStore, open_store
from dylive.store.export import CSV_COLUMNS, export_room

ROOM = 7713439806789773866
BIG = 2**63 + 7  # msg_id beyond signed 64 bits (and far beyond 2^53)
WEB_RID = "615189692839"


@pytest.fixture
def db(store_url: str) -> str:
    return store_url


def user(uid: int, nickname: str) -> dict[str, Any]:
    return {"uid": uid, "nickname": nickname, "unique_id": f"u{uid}", "sec_uid": "MS4w"}


def message(msg_id: int, method: str, content: str, **extra: Any) -> Record:
    payload = {"room_id": ROOM, "content": content, "user": user(61152922824, "若他"), **extra}
    rendered = orjson.dumps({"method": method, "msg_id": msg_id, "payload": payload})
    return Record(ROOM, msg_id, method, 1611801897133, rendered, b"raw")


SAMPLE = [
    message(6922636275858098944, "WebcastChatMessage", "想要长款连衣裙"),
    message(BIG, "WebcastChatMessage", 'he said "hi", then\nleft; 逗号,'),
    message(3, "WebcastRoomUserSeqMessage", "100在线观众"),
    message(
        6922631970493106951,
        "WebcastGiftMessage",
        "若他:送给主播 1个小心心",
        gift={"id": 1, "name": "小心心", "count": 1, "delta": 1},
    ),
    message(5, "WebcastLikeMessage", "点赞", like={"count": 3, "total": 9}),
]


def fill(db: str, records: list[Record] = SAMPLE) -> None:
    async def run() -> None:
        async with open_store(db) as store:
            await store.upsert_room(RoomRecord(ROOM, web_rid=WEB_RID, status=2))
            await store.append(records)

    asyncio.run(run())


def export(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["export", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_jsonl_is_the_stored_json_byte_for_byte(
    db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fill(db)
    out_file = tmp_path / "out.jsonl"
    code, _, err = export(capsys, "--db", db, "--room", WEB_RID, "--output", str(out_file))
    assert code == 0, err
    assert "5 messages" in err
    data = out_file.read_bytes()
    assert data.splitlines() == [r.rendered for r in SAMPLE]
    assert f'"msg_id":{BIG},'.encode() in data  # exact digits, never a float
    code, out, _ = export(capsys, "--db", db, "--room", str(ROOM), "--format", "jsonl")
    assert code == 0 and out.encode() == data


def test_csv_columns_quoting_gift_columns(
    db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fill(db)
    out_file = tmp_path / "out.csv"
    code, _, err = export(
        capsys, "--db", db, "--room", WEB_RID, "--format", "csv", "-o", str(out_file)
    )
    assert code == 0, err
    raw = out_file.read_bytes()
    assert raw.startswith(b"seq,msg_id,method,")  # UTF-8, no BOM
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8"), newline="")))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert [r["msg_id"] for r in rows] == [str(r.msg_id) for r in SAMPLE]
    assert rows[1]["msg_id"] == str(BIG)
    assert rows[1]["content"] == 'he said "hi", then\nleft; 逗号,'
    assert rows[0]["user_nickname"] == "若他" and rows[0]["user_uid"] == "61152922824"
    assert rows[0]["user_unique_id"] == "u61152922824" and rows[0]["room_id"] == str(ROOM)
    assert rows[0]["created_at_ms"] == "1611801897133"
    assert datetime.fromisoformat(rows[0]["created_at"]).timestamp() == 1611801897.133
    gift = rows[3]
    assert (gift["gift_name"], gift["gift_count"], gift["gift_delta"]) == ("小心心", "1", "1")
    assert rows[0]["gift_name"] == rows[0]["gift_count"] == rows[0]["gift_delta"] == ""
    seqs = [int(r["seq"]) for r in rows]
    assert seqs == sorted(seqs)


def test_since_seq_and_methods(db: str, capsys: pytest.CaptureFixture[str]) -> None:
    fill(db)
    code, out, _ = export(capsys, "--db", db, "--room", WEB_RID, "--format", "csv")
    seqs = [int(r["seq"]) for r in csv.DictReader(io.StringIO(out))]
    code, out, _ = export(capsys, "--db", db, "--room", WEB_RID, "--since-seq", str(seqs[1]))
    assert code == 0
    assert [orjson.loads(line)["msg_id"] for line in out.splitlines()] == [
        r.msg_id for r in SAMPLE[2:]
    ]
    code, out, _ = export(
        capsys, "--db", db, "--room", WEB_RID, "--methods", "chat,WebcastGiftMessage"
    )
    assert code == 0
    assert [orjson.loads(line)["msg_id"] for line in out.splitlines()] == [
        SAMPLE[0].msg_id,
        BIG,
        SAMPLE[3].msg_id,
    ]


def test_method_names() -> None:
    assert method_names("chat, room_user_seq ,WebcastGiftMessage") == frozenset(
        {"WebcastChatMessage", "WebcastRoomUserSeqMessage", "WebcastGiftMessage"}
    )
    assert method_names("") is None and method_names("all") is None
    with pytest.raises(ValueError):
        method_names("chat;drop")


class CountingStore(SQLiteStore):
    """The real SQLite store, remembering the size of every page it was asked for."""

    limits: list[int]

    async def read(
        self, room_id: int, after_seq: int, limit: int, methods: frozenset[str] | None = None
    ) -> Page:
        self.limits = [*getattr(self, "limits", []), limit]
        return await super().read(room_id, after_seq, limit, methods)


async def test_streams_page_by_page_in_seq_order(tmp_path: Path) -> None:
    records = [
        message(i, "WebcastChatMessage" if i % 3 else "WebcastMemberMessage", f"m{i}")
        for i in range(1, 101)
    ]
    store = CountingStore(tmp_path / "s.db")
    async with store:
        await store.append(records)
        out = io.StringIO()
        count = await export_room(
            store, ROOM, out, page_size=7, methods=frozenset({"WebcastChatMessage"})
        )
    want = [r.msg_id for r in records if r.msg_id % 3]
    assert count == len(want)
    assert [orjson.loads(line)["msg_id"] for line in out.getvalue().splitlines()] == want
    assert set(store.limits) == {7} and len(store.limits) >= len(want) // 7


def test_unknown_room_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = str(tmp_path / "s.db")
    fill(db)
    for room in ("123456", "nosuchroom", str(ROOM + 1), "https://live.douyin.com/999"):
        code, out, err = export(capsys, "--db", db, "--room", room)
        assert code == 2 and out == ""
        assert "unknown room" in err and room.rpartition("/")[2] in err
    code, out, _ = export(capsys, "--db", db, "--room", f"https://live.douyin.com/{WEB_RID}")
    assert code == 0 and len(out.splitlines()) == len(SAMPLE)


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dylive", "export", *args],
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=60,
        check=False,
    )


def test_bad_database_is_a_clear_error_without_traceback(tmp_path: Path) -> None:
    missing = run_cli("--db", str(tmp_path / "nope" / "x.db"), "--room", WEB_RID)
    assert missing.returncode == 2 and missing.stdout == ""
    assert "no database file" in missing.stderr and "Traceback" not in missing.stderr
    assert not (tmp_path / "nope").exists()  # nothing created
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not a database at all" * 100)
    bad = run_cli("--db", str(junk), "--room", WEB_RID)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert "not a database" in bad.stderr
    url = "postgresql://someone:s3cret@127.0.0.1:1/nodb"
    down = run_cli("--db", url, "--room", WEB_RID)
    assert down.returncode == 2 and "Traceback" not in down.stderr
    assert "cannot connect" in down.stderr and "s3cret" not in down.stderr


def test_stdout_of_a_real_process_is_utf8_jsonl(tmp_path: Path) -> None:
    db = str(tmp_path / "s.db")
    fill(db)
    done = run_cli("--db", db, "--room", WEB_RID, "--format", "jsonl")
    assert done.returncode == 0, done.stderr
    assert done.stdout.encode("utf-8").splitlines() == [r.rendered for r in SAMPLE]


def test_a_reader_that_stops_early_is_not_an_error(tmp_path: Path) -> None:
    """``dylive export … | head``: exit 0, nothing on stderr (no "Broken pipe")."""
    db = str(tmp_path / "many.db")
    body = "x" * 300
    fill(db, [message(i, "WebcastChatMessage", body) for i in range(1, 5001)])  # ~2 MB > pipe
    for fmt in ("jsonl", "csv"):
        proc = subprocess.Popen(
            [sys.executable, "-m", "dylive", "export", "--db", db, "--room", WEB_RID,
             "--format", fmt],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )  # fmt: skip
        assert proc.stdout is not None and proc.stderr is not None
        assert proc.stdout.readline()  # like head -1: read one line, then hang up
        proc.stdout.close()
        err = proc.stderr.read().decode()
        proc.stderr.close()
        assert proc.wait(timeout=60) == 0, err
        assert err == "", err


def test_the_count_is_reported_once(tmp_path: Path) -> None:
    db = str(tmp_path / "s.db")
    fill(db)
    done = run_cli("--db", db, "--room", WEB_RID)
    assert done.returncode == 0, done.stderr
    assert done.stderr.splitlines() == [f"dylive export: {len(SAMPLE)} messages"]

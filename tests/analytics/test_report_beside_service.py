"""`dylive report --db …` beside a running service reads the session without moving the
service's checkpoint: the service's next checkpoint goes through (no "checkpointed by another
process; reloading"), and the report still covers every stored message."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import orjson
import pytest

from dylive.analytics import Analytics
from dylive.cli import main
from dylive.store import Record, RoomRecord, SQLiteStore

ROOM, WEB_RID = 7439018246715328306, "80017709309"


def chats(first: int, last: int) -> list[Record]:
    out = []
    for i in range(first, last + 1):
        body = {"method": "WebcastChatMessage", "msg_id": i, "payload": {"user": {"uid": i}}}
        out.append(
            Record(ROOM, i, "WebcastChatMessage", 1_700_000_000_000 + i, orjson.dumps(body), b"")
        )
    return out


async def test_report_leaves_the_services_checkpoint(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    db, out = str(tmp_path / "r.sqlite3"), tmp_path / "report.json"
    caplog.set_level(logging.INFO, logger="dylive.analytics")
    async with SQLiteStore(db) as store:
        await store.upsert_room(RoomRecord(ROOM, web_rid=WEB_RID, status=2))
        await store.append(chats(1, 10))
        service = Analytics(store)  # the running service's analytics
        await service.catch_up(ROOM)
        await service.flush()
        checkpoint = (await store.get_session(room_id=ROOM)).last_seq  # type: ignore[union-attr]
        await store.append(chats(11, 20))  # stored, not folded by the service yet

        args = ["report", "--room", WEB_RID, "--db", db, "--format", "json", "-o", str(out)]
        assert await asyncio.to_thread(main, args) == 0
        report = orjson.loads(out.read_bytes())
        assert report["message_total"] == 20 and report["session"]["live"]
        session = await store.get_session(room_id=ROOM)
        assert session is not None and session.last_seq == checkpoint  # not moved

        await store.append(chats(21, 25))
        await service.flush()  # the service's compare-and-set still holds
        session = await store.get_session(room_id=ROOM)
        assert session is not None and session.last_seq == await store.last_seq(ROOM)
        await service.close()
    assert not [r for r in caplog.records if "another process" in r.getMessage()]

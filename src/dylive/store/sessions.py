"""SQL that both backends share for the ``sessions`` table and raw scans (``%s`` placeholders;
SQLite callers swap them for ``?``), and the row mapper."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .base import SessionRecord
from .migrations import to_signed, to_unsigned
from .rows import now_ms

COLS = (
    "id, room_id, web_rid, title, anchor, started_at, ended_at, last_seq, state, report, updated_at"
)
LIST_COLS = (
    "id, room_id, web_rid, title, anchor, started_at, ended_at, last_seq, ''::bytea, ''::bytea,"
    " updated_at"
)

INSERT = (
    "INSERT INTO sessions (room_id, web_rid, title, anchor, started_at, updated_at)"
    " VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (room_id) DO NOTHING"
)
SAVE = (
    "UPDATE sessions SET web_rid = %s, title = %s, anchor = %s, started_at = %s, ended_at = %s,"
    " last_seq = %s, state = %s, report = %s, updated_at = %s WHERE id = %s AND last_seq = %s"
    # a save that does not know the session ended never overwrites its end (another node ended
    # it at the same seq: this one loses, loads it again and finishes it)
    " AND (ended_at = 0 OR %s <> 0)"
)
#: a checkpoint's part, written with SAVE (when it changed a row) in the same transaction
ADD_PART = "INSERT INTO session_parts (session_id, seq, part) VALUES (%s, %s, %s)"
#: the end of a compaction: the session's parts saved before its first one go, with SAVE and
#: ADD_PART (the last one's) in the same transaction
DROP_PARTS = "DELETE FROM session_parts WHERE session_id = %s AND seq < %s"
PARTS = "SELECT part FROM session_parts WHERE session_id = %s AND seq <= %s ORDER BY seq"
BY_ID = f"SELECT {COLS} FROM sessions WHERE id = %s"
BY_ROOM = f"SELECT {COLS} FROM sessions WHERE room_id = %s"
SCAN = (
    "SELECT seq, msg_id, method, created_at, raw FROM events WHERE room_id = %s AND seq > %s"
    " ORDER BY seq LIMIT %s"
)
SCAN_RENDERED = SCAN.replace(", raw FROM", ", rendered FROM")


def list_query(web_rid: str, room_id: int, *, sqlite: bool) -> tuple[str, tuple[Any, ...]]:
    cols = LIST_COLS.replace("''::bytea", "x''") if sqlite else LIST_COLS
    args: tuple[Any, ...]
    if web_rid:
        where, args = "web_rid = %s", (web_rid,)
    else:
        where, args = "room_id = %s", (to_signed(room_id),)
    sql = f"SELECT {cols} FROM sessions WHERE {where} ORDER BY id DESC"
    return sql, args


def insert_args(s: SessionRecord) -> tuple[Any, ...]:
    return (to_signed(s.room_id), s.web_rid, s.title, s.anchor, s.started_at, now_ms())


def save_args(s: SessionRecord, expected_seq: int) -> tuple[Any, ...]:
    return (
        s.web_rid,
        s.title,
        s.anchor,
        s.started_at,
        s.ended_at,
        s.last_seq,
        s.state,
        s.report,
        now_ms(),
        s.id,
        expected_seq,
        s.ended_at,
    )


def part_args(s: SessionRecord, part: bytes) -> tuple[Any, ...] | None:
    """:data:`ADD_PART`'s arguments (None: no part to add)."""
    return (s.id, s.last_seq, part) if part else None


def drop_args(s: SessionRecord, drop_before: int) -> tuple[Any, ...] | None:
    """:data:`DROP_PARTS`' arguments (None: nothing to delete)."""
    return (s.id, drop_before) if drop_before > 0 else None


def session_from_row(row: Sequence[Any]) -> SessionRecord:
    sid, room_id, web_rid, title, anchor, started, ended, last_seq, state, report, updated = row
    return SessionRecord(
        id=sid,
        room_id=to_unsigned(room_id),
        web_rid=web_rid,
        title=title,
        anchor=anchor,
        started_at=started,
        ended_at=ended,
        last_seq=last_seq,
        state=bytes(state),
        report=bytes(report),
        updated_at=updated,
    )


def raw_row(row: Sequence[Any]) -> tuple[int, int, str, int, bytes]:
    seq, msg_id, method, created_at, raw = row
    return (seq, to_unsigned(msg_id), method, created_at, bytes(raw))


def q(sql: str) -> str:
    """``sql`` with SQLite's placeholders."""
    return sql.replace("%s", "?")

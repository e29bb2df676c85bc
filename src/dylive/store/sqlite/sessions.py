"""Analytics sessions on SQLite (the SQL is shared with PostgreSQL: ``dylive.store.sessions``)."""

from __future__ import annotations

import sqlite3
from typing import Any

from .. import sessions as ses
from ..domain import SessionRules
from ..migrations import to_signed
from ..records import SessionRecord
from .engine import SQLiteEngine


class SQLiteSessions(SQLiteEngine, SessionRules):
    """:class:`~dylive.store.interfaces.Sessions` on SQLite."""

    async def _insert_session(self, args: tuple[Any, ...]) -> None:
        await self._submit(lambda conn: conn.execute(ses.q(ses.INSERT), args), pure=True)

    async def _update_session(
        self,
        args: tuple[Any, ...],
        part: tuple[Any, ...] | None = None,
        drop: tuple[Any, ...] | None = None,
    ) -> int:
        def save(conn: sqlite3.Connection) -> int:
            changed: int = conn.execute(ses.q(ses.SAVE), args).rowcount
            if changed == 1:  # atomic: a failure undoes the whole op
                if drop is not None:  # a compaction's end: the parts before it go
                    conn.execute(ses.q(ses.DROP_PARTS), drop)
                if part is not None:
                    conn.execute(ses.q(ses.ADD_PART), part)
            return changed

        # pure (database effects only; a failure rolls the whole batch back and reruns it
        # guarded): analytics saves a session every second or so per busy room, and one op that
        # is not pure puts its whole batch, appends and all, under savepoints
        changed: int = await self._submit(save, pure=True)
        return changed

    async def session_parts(self, session_id: int, upto_seq: int) -> list[bytes]:
        sql, args = ses.q(ses.PARTS), (session_id, upto_seq)
        rows = await self._query(lambda conn: conn.execute(sql, args).fetchall())
        return [bytes(row[0]) for row in rows]

    async def get_session(self, *, session_id: int = 0, room_id: int = 0) -> SessionRecord | None:
        sql, key = (ses.BY_ID, session_id) if session_id else (ses.BY_ROOM, to_signed(room_id))
        row = await self._query(lambda conn: conn.execute(ses.q(sql), (key,)).fetchone())
        return ses.session_from_row(row) if row else None

    async def list_sessions(self, *, web_rid: str = "", room_id: int = 0) -> list[SessionRecord]:
        sql, args = ses.list_query(web_rid, room_id, sqlite=True)
        rows = await self._query(lambda conn: conn.execute(ses.q(sql), args).fetchall())
        return [ses.session_from_row(row) for row in rows]

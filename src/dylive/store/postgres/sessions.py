"""Analytics sessions on PostgreSQL (the SQL is shared with SQLite: ``dylive.store.sessions``)."""

from __future__ import annotations

from typing import Any

from .. import sessions as ses
from ..domain import SessionRules
from ..migrations import to_signed
from ..records import SessionRecord
from .engine import PostgresEngine
from .pool import Conn


class PostgresSessions(PostgresEngine, SessionRules):
    """:class:`~dylive.store.interfaces.Sessions` on PostgreSQL."""

    async def _insert_session(self, args: tuple[Any, ...]) -> None:
        async def insert(conn: Conn) -> None:
            await conn.execute(ses.INSERT, args)

        await self._submit(insert)

    async def _update_session(self, args: tuple[Any, ...]) -> int:
        return await self._write(ses.SAVE, args)

    async def get_session(self, *, session_id: int = 0, room_id: int = 0) -> SessionRecord | None:
        sql, key = (ses.BY_ID, session_id) if session_id else (ses.BY_ROOM, to_signed(room_id))
        row = await self._fetch_one(sql, (key,))
        return ses.session_from_row(row) if row else None

    async def list_sessions(self, *, web_rid: str = "", room_id: int = 0) -> list[SessionRecord]:
        sql, args = ses.list_query(web_rid, room_id, sqlite=False)
        return [ses.session_from_row(row) for row in await self._fetch(sql, args)]

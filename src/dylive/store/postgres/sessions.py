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

    async def _update_session(
        self,
        args: tuple[Any, ...],
        part: tuple[Any, ...] | None = None,
        drop: tuple[Any, ...] | None = None,
    ) -> int:
        async def save(conn: Conn) -> int:
            changed: int = (await conn.execute(ses.SAVE, args)).rowcount
            if changed == 1:  # in the writer's transaction
                if drop is not None:  # a compaction's end: the parts before it go
                    await conn.execute(ses.DROP_PARTS, drop)
                if part is not None:
                    await conn.execute(ses.ADD_PART, part)
            return changed

        changed: int = await self._submit(save)
        return changed

    async def session_parts(self, session_id: int, upto_seq: int) -> list[bytes]:
        rows = await self._fetch(ses.PARTS, (session_id, upto_seq), binary=True)
        return [bytes(row[0]) for row in rows]

    async def get_session(self, *, session_id: int = 0, room_id: int = 0) -> SessionRecord | None:
        sql, key = (ses.BY_ID, session_id) if session_id else (ses.BY_ROOM, to_signed(room_id))
        row = await self._fetch_one(sql, (key,))
        return ses.session_from_row(row) if row else None

    async def list_sessions(self, *, web_rid: str = "", room_id: int = 0) -> list[SessionRecord]:
        sql, args = ses.list_query(web_rid, room_id, sqlite=False)
        return [ses.session_from_row(row) for row in await self._fetch(sql, args)]

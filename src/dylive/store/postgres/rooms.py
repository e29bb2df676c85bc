"""Rooms and pins on PostgreSQL."""

from __future__ import annotations

from ..interfaces import Rooms
from ..migrations import to_signed
from ..records import RoomRecord
from ..rows import ROOM_COLS, room_from_row, room_values
from .engine import PostgresEngine
from .pool import Conn

_UPSERT_ROOM = f"""
INSERT INTO rooms ({ROOM_COLS}) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (room_id) DO UPDATE SET web_rid = excluded.web_rid, status = excluded.status,
    anchor_uid = excluded.anchor_uid, anchor_sec_uid = excluded.anchor_sec_uid,
    anchor_nickname = excluded.anchor_nickname, title = excluded.title,
    updated_at = excluded.updated_at
"""


class PostgresRooms(PostgresEngine, Rooms):
    """:class:`~dylive.store.interfaces.Rooms` on PostgreSQL."""

    async def upsert_room(self, room: RoomRecord) -> None:
        values = room_values(room)

        async def upsert(conn: Conn) -> None:
            await conn.execute(_UPSERT_ROOM, values)

        await self._submit(upsert)

    async def find_room(self, *, room_id: int = 0, web_rid: str = "") -> RoomRecord | None:
        if room_id:
            row = await self._fetch_one(
                f"SELECT {ROOM_COLS} FROM rooms WHERE room_id = %s", (to_signed(room_id),)
            )
        else:
            row = await self._fetch_one(
                f"SELECT {ROOM_COLS} FROM rooms WHERE web_rid = %s"
                " ORDER BY updated_at DESC LIMIT 1",
                (web_rid,),
            )
        return room_from_row(row) if row else None

    async def set_pin(self, ident: str, pinned: bool) -> None:
        query = (
            "INSERT INTO pins (ident) VALUES (%s) ON CONFLICT DO NOTHING"
            if pinned
            else "DELETE FROM pins WHERE ident = %s"
        )

        async def write(conn: Conn) -> None:
            await conn.execute(query, (ident,))

        await self._submit(write)

    async def pins(self) -> list[str]:
        rows = await self._fetch("SELECT ident FROM pins ORDER BY ident")
        return [r[0] for r in rows]

"""Rooms and pins on SQLite."""

from __future__ import annotations

from ..interfaces import Rooms
from ..migrations import to_signed
from ..records import RoomRecord
from ..rows import ROOM_COLS, room_from_row, room_values
from .engine import SQLiteEngine


class SQLiteRooms(SQLiteEngine, Rooms):
    """:class:`~dylive.store.interfaces.Rooms` on SQLite."""

    # -- rooms --------------------------------------------------------------------------------
    async def upsert_room(self, room: RoomRecord) -> None:
        values = room_values(room)
        await self._submit(
            lambda conn: conn.execute(
                f"INSERT OR REPLACE INTO rooms ({ROOM_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                values,
            ),
            pure=True,
        )

    async def find_room(self, *, room_id: int = 0, web_rid: str = "") -> RoomRecord | None:
        args: tuple[object, ...]
        if room_id:
            sql, args = f"SELECT {ROOM_COLS} FROM rooms WHERE room_id = ?", (to_signed(room_id),)
        else:
            sql = f"SELECT {ROOM_COLS} FROM rooms WHERE web_rid = ? ORDER BY updated_at DESC"
            args = (web_rid,)
        row = await self._query(lambda conn: conn.execute(sql, args).fetchone())
        return room_from_row(row) if row else None

    # -- pins ---------------------------------------------------------------------------------
    async def set_pin(self, ident: str, pinned: bool) -> None:
        sql = (
            "INSERT OR IGNORE INTO pins (ident) VALUES (?)"
            if pinned
            else ("DELETE FROM pins WHERE ident = ?")
        )
        await self._submit(lambda conn: conn.execute(sql, (ident,)), pure=True)

    async def pins(self) -> list[str]:
        rows = await self._query(
            lambda conn: conn.execute("SELECT ident FROM pins ORDER BY ident").fetchall()
        )
        return [r[0] for r in rows]

"""Upstream identities on SQLite."""

from __future__ import annotations

from ..interfaces import Identities
from ..records import IdentityRecord
from ..rows import IDENTITY_COLS, identity_row
from .engine import SQLiteEngine


class SQLiteIdentities(SQLiteEngine, Identities):
    """:class:`~dylive.store.interfaces.Identities` on SQLite."""

    async def save_identity(self, identity: IdentityRecord) -> None:
        sql = f"INSERT OR REPLACE INTO identities ({IDENTITY_COLS}) VALUES (?,?,?,?,?,?,?,?,?,?)"
        row = identity_row(identity)
        await self._submit(lambda conn: conn.execute(sql, row), pure=True)

    async def identities(self) -> list[IdentityRecord]:
        sql = f"SELECT {IDENTITY_COLS} FROM identities ORDER BY name"
        rows = await self._query(lambda conn: conn.execute(sql).fetchall())
        return [IdentityRecord(*row) for row in rows]

    async def remove_identity(self, name: str) -> int:
        sql = "DELETE FROM identities WHERE name = ?"
        count: int = await self._submit(lambda conn: conn.execute(sql, (name,)).rowcount)
        return count

    async def set_identity_state(
        self, name: str, *, state: str, cooldown_until: int, strikes: int, note: str
    ) -> None:
        sql = (
            "UPDATE identities SET state = ?, cooldown_until = ?, strikes = ?, note = ? "
            "WHERE name = ?"
        )
        args = (state, cooldown_until, strikes, note, name)
        await self._submit(lambda conn: conn.execute(sql, args), pure=True)

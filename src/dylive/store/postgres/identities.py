"""Upstream identities on PostgreSQL."""

from __future__ import annotations

from ..interfaces import Identities
from ..records import IdentityRecord
from ..rows import IDENTITY_COLS, identity_row
from .engine import PostgresEngine
from .pool import Conn


class PostgresIdentities(PostgresEngine, Identities):
    """:class:`~dylive.store.interfaces.Identities` on PostgreSQL."""

    async def save_identity(self, identity: IdentityRecord) -> None:
        query = (
            f"INSERT INTO identities ({IDENTITY_COLS}) VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s) "
            "ON CONFLICT (name) DO UPDATE SET cookie = EXCLUDED.cookie, proxy = EXCLUDED.proxy, "
            "user_agent = EXCLUDED.user_agent, max_rooms = EXCLUDED.max_rooms, "
            "state = EXCLUDED.state, cooldown_until = EXCLUDED.cooldown_until, "
            "strikes = EXCLUDED.strikes, note = EXCLUDED.note"
        )
        row = identity_row(identity)

        async def write(conn: Conn) -> None:
            await conn.execute(query, row)

        await self._submit(write)

    async def identities(self) -> list[IdentityRecord]:
        rows = await self._fetch(f"SELECT {IDENTITY_COLS} FROM identities ORDER BY name")
        return [IdentityRecord(*row) for row in rows]

    async def remove_identity(self, name: str) -> int:
        async def delete(conn: Conn) -> int:
            cur = await conn.execute("DELETE FROM identities WHERE name = %s", (name,))
            return int(cur.rowcount)

        count: int = await self._submit(delete)
        return count

    async def set_identity_state(
        self, name: str, *, state: str, cooldown_until: int, strikes: int, note: str
    ) -> None:
        query = (
            "UPDATE identities SET state = %s, cooldown_until = %s, strikes = %s, note = %s "
            "WHERE name = %s"
        )

        async def write(conn: Conn) -> None:
            await conn.execute(query, (state, cooldown_until, strikes, note, name))

        await self._submit(write)

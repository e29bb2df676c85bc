"""The SQLite token cache (loop thread): a token is read again only when the tokens table
changed — by this store or by any other connection (another process: ``dylive token revoke``) —
and not on every commit of messages while rooms are collected (``token_generation``, migration 12).
"""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from dylive.serve import tokens
from dylive.store import Record, SQLiteStore
from dylive.store.sqlite.engine import _statements

ROOM = 7_300_000_000_000_000_001


def rec(msg_id: int) -> Record:
    return Record(ROOM, msg_id, "WebcastChatMessage", 1, b'{"m":1}', b"raw")


async def test_message_commits_keep_the_token_cached(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with SQLiteStore(tmp_path / "t.sqlite3") as store:
        secret = await tokens.create(store, "reader")
        wanted = tokens.digest(secret)
        reads = 0
        point = store._point

        async def counted(sql: str, args: tuple[object, ...]) -> object:
            nonlocal reads
            reads += "FROM tokens" in sql
            return await point(sql, args)

        monkeypatch.setattr(store, "_point", counted)
        assert (await store.token_by_digest(wanted)) is not None
        assert reads == 1
        for i in range(20):  # commits of messages, each followed by requests
            await store.append([rec(1000 + i)])
            await asyncio.sleep(0)  # a new loop batch: the counter is read again
            record = await store.token_by_digest(wanted)
            assert record is not None and record.active
        assert reads == 1


async def test_a_revocation_by_another_connection_is_seen_by_the_next_lookup(
    tmp_path: Path,
) -> None:
    path = tmp_path / "t.sqlite3"
    async with SQLiteStore(path) as store:
        secret = await tokens.create(store, "reader")
        wanted = tokens.digest(secret)
        assert (await store.token_by_digest(wanted)).active  # type: ignore[union-attr]
        other = sqlite3.connect(path, isolation_level=None)  # as another process would
        try:
            other.execute("UPDATE tokens SET revoked_at = 5 WHERE digest = ?", (wanted,))
        finally:
            other.close()
        await asyncio.sleep(0)
        record = await store.token_by_digest(wanted)
        assert record is not None and not record.active
        # and a token created elsewhere is found at once, not cached as missing
        missing = "e" * 64
        assert await store.token_by_digest(missing) is None
        other = sqlite3.connect(path, isolation_level=None)
        try:
            other.execute(
                "INSERT INTO tokens (name, digest, created_at) VALUES ('late', ?, 1)", (missing,)
            )
        finally:
            other.close()
        await asyncio.sleep(0)
        assert await store.token_by_digest(missing) is not None


async def test_the_store_s_own_revocation_is_seen_in_the_same_loop_batch(tmp_path: Path) -> None:
    async with SQLiteStore(tmp_path / "t.sqlite3") as store:
        secret = await tokens.create(store, "reader")
        wanted = tokens.digest(secret)
        assert (await store.token_by_digest(wanted)).active  # type: ignore[union-attr]
        assert await store.revoke_token("reader") == 1
        record = await store.token_by_digest(wanted)
        assert record is not None and not record.active


def test_migration_scripts_split_at_the_statements_not_inside_trigger_bodies() -> None:
    script = """
    CREATE TABLE a (x);
    CREATE TRIGGER t AFTER INSERT ON a BEGIN UPDATE a SET x = 1; DELETE FROM a WHERE 0; END;
    INSERT INTO a VALUES ('semi;colon');
    """
    parts = _statements(script)
    assert len(parts) == 3
    assert "DELETE FROM a WHERE 0; END;" in parts[1]
    conn = sqlite3.connect(":memory:")
    for statement in parts:
        conn.execute(statement)
    assert conn.execute("SELECT x FROM a").fetchall() == [(1,)]
    with pytest.raises(ValueError, match="incomplete statement"):
        _statements("CREATE TRIGGER t AFTER INSERT ON a BEGIN UPDATE a SET x = 1;")

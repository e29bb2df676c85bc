"""The SQLite token cache (loop thread): a token is read again only when the tokens changed, and
not on every commit of messages while rooms are collected. A token write of dylive in any process
(``dylive token revoke``, another store on the database) rewrites the change mark ``<db>-tokens``
and is seen by the next lookup; a writer that does not know the mark (a ``sqlite3`` shell) is
seen through the tokens table's change counter (``token_generation``, migration 12) within
``RECHECK`` seconds; without a mark the counter is read once per batch of loop callbacks.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import sys
from pathlib import Path

import pytest
from support.waiting import until

from dylive.serve import tokens
from dylive.store import Record, SQLiteStore
from dylive.store.sqlite import tokens as sqlite_tokens
from dylive.store.sqlite.engine import _statements
from dylive.store.sqlite.tokenmark import TokenMark

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


async def test_a_revocation_by_another_process_is_seen_by_the_next_lookup(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``dylive token revoke`` (a process of its own) rewrites the mark: the next lookup reads the
    token again, without waiting for the change counter (its recheck is pushed out of reach)."""
    monkeypatch.setattr(sqlite_tokens, "RECHECK", 3600.0)
    path = tmp_path / "t.sqlite3"
    async with SQLiteStore(path) as store:
        secret = await tokens.create(store, "reader")
        wanted = tokens.digest(secret)
        assert (await store.token_by_digest(wanted)).active  # type: ignore[union-attr]
        assert (await store.token_by_digest(wanted)).active  # type: ignore[union-attr]
        revoke = [sys.executable, "-m", "dylive", "--log-level", "warning", "token", "revoke"]
        done = await asyncio.create_subprocess_exec(
            *revoke, "reader", "--db", str(path), stderr=asyncio.subprocess.PIPE
        )
        _, err = await asyncio.wait_for(done.communicate(), 60)
        assert done.returncode == 0, err
        record = await store.token_by_digest(wanted)
        assert record is not None and not record.active
        # another store on the database (as the admin API of another service): a token it
        # creates is found at once, not cached as missing; one it revokes is refused at once
        late = "e" * 64
        assert await store.token_by_digest(late) is None
        async with SQLiteStore(path) as other:
            await other.create_token("late", late, 0, 0.0)
            found = await store.token_by_digest(late)
            assert found is not None and found.active
            assert await other.revoke_token("late") == 1
            found = await store.token_by_digest(late)
            assert found is not None and not found.active


async def test_a_revocation_by_a_sqlite_shell_is_seen_within_the_recheck(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A writer that does not rewrite the mark (a ``sqlite3`` shell) moves ``token_generation``,
    which the cache reads every RECHECK seconds; the mark alone does not see it."""
    monkeypatch.setattr(sqlite_tokens, "RECHECK", 3600.0)
    path = tmp_path / "t.sqlite3"
    async with SQLiteStore(path) as store:
        secret = await tokens.create(store, "reader")
        wanted = tokens.digest(secret)
        assert (await store.token_by_digest(wanted)).active  # type: ignore[union-attr]
        other = sqlite3.connect(path, isolation_level=None)  # no mark written
        try:
            other.execute("UPDATE tokens SET revoked_at = 5 WHERE digest = ?", (wanted,))
            missing = "e" * 64
            assert await store.token_by_digest(missing) is None
            other.execute(
                "INSERT INTO tokens (name, digest, created_at) VALUES ('late', ?, 1)", (missing,)
            )
        finally:
            other.close()
        assert (await store.token_by_digest(wanted)).active  # type: ignore[union-attr]
        monkeypatch.setattr(sqlite_tokens, "RECHECK", 0.05)
        store._recheck_at = 0.0  # the hour is over

        async def revoked() -> bool:
            record = await store.token_by_digest(wanted)
            return record is not None and not record.active

        await until(revoked, within=10, what="the shell's revocation seen")
        assert await store.token_by_digest(missing) is not None


async def test_without_a_mark_the_counter_is_read_once_per_loop_batch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A mark that cannot be opened (a read-only directory): ``token_generation`` per loop batch,
    so a shell's revocation is seen by the next batch's lookup."""
    monkeypatch.setattr(TokenMark, "open", lambda self: False)
    path = tmp_path / "t.sqlite3"
    async with SQLiteStore(path) as store:
        secret = await tokens.create(store, "reader")
        wanted = tokens.digest(secret)
        assert (await store.token_by_digest(wanted)).active  # type: ignore[union-attr]
        other = sqlite3.connect(path, isolation_level=None)
        try:
            other.execute("UPDATE tokens SET revoked_at = 5 WHERE digest = ?", (wanted,))
        finally:
            other.close()
        await asyncio.sleep(0)
        record = await store.token_by_digest(wanted)
        assert record is not None and not record.active


async def test_a_deleted_mark_is_opened_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The mark file deleted under a running service: the next recheck opens the new one, and
    revocations through it are seen by the next lookup again."""
    monkeypatch.setattr(sqlite_tokens, "RECHECK", 0.0)  # every lookup rechecks
    path = tmp_path / "t.sqlite3"
    async with SQLiteStore(path) as store:
        first = tokens.digest(await tokens.create(store, "a"))
        second = tokens.digest(await tokens.create(store, "b"))
        assert (await store.token_by_digest(first)).active  # type: ignore[union-attr]
        mark = str(path) + "-tokens"
        os.unlink(mark)
        assert (await store.token_by_digest(first)).active  # type: ignore[union-attr]
        assert os.stat(mark).st_size == 0  # made again, empty
        monkeypatch.setattr(sqlite_tokens, "RECHECK", 3600.0)
        store._recheck_at = 0.0
        assert (await store.token_by_digest(second)).active  # type: ignore[union-attr]
        async with SQLiteStore(path) as other:
            assert await other.revoke_token("b") == 1
        record = await store.token_by_digest(second)
        assert record is not None and not record.active


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

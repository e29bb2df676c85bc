"""``dylive token``: list and revoke refuse a database that does not exist (no empty file from a
typo); names are unique among active tokens; revoke takes a name or ``--id``; a database made
before names were unique keeps working (older duplicates are renamed, not lost)."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

from dylive.store import SQLiteStore
from dylive.store.migrations import SQLITE


def token(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dylive", "--log-level", "warning", "token", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_commands_other_than_create_refuse_a_missing_database(tmp_path: Path) -> None:
    typo = tmp_path / "dylive.sqlit3"
    for args in (["list"], ["revoke", "x"], ["revoke", "--id", "1"]):
        done = token(*args, "--db", str(typo))
        assert done.returncode == 1 and done.stdout == ""
        assert done.stderr == f"dylive token: no database file at {str(typo)!r}\n"
        assert not typo.exists()
    created = token("create", "--name", "a", "--db", str(typo))
    assert created.returncode == 0 and created.stdout.startswith("dyl_")
    assert typo.is_file()


def test_unique_names_and_revoke_by_name_or_id(tmp_path: Path) -> None:
    db = str(tmp_path / "t.db")
    assert token("create", "--name", "ci", "--db", db).returncode == 0
    dup = token("create", "--name", "ci", "--db", db)
    assert dup.returncode == 1 and dup.stdout == ""
    assert dup.stderr == "dylive token: an active token is already named 'ci' (id 1)\n"
    assert token("create", "--name", "2", "--db", db).returncode == 0  # id 2, named "2"
    assert token("create", "--name", "other", "--db", db).returncode == 0  # id 3
    by_id = token("revoke", "--id", "3", "--db", db)
    assert by_id.returncode == 0 and by_id.stdout == "revoked the token id 3\n"
    by_name = token("revoke", "2", "--db", db)  # the name "2", not id 2
    assert by_name.returncode == 0 and by_name.stdout == "revoked the token named '2'\n"
    listing = token("list", "--db", db).stdout.splitlines()
    assert [line.split("\t")[1::4] for line in listing[1:]] == [
        ["ci", "active"],
        ["2", "revoked"],
        ["other", "revoked"],
    ]
    again = token("revoke", "--id", "3", "--db", db)
    assert again.returncode == 1 and again.stderr == "dylive token: no active token id 3\n"


async def test_duplicate_names_of_an_older_database_are_renamed(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    step = next(i for i, sql in enumerate(SQLITE) if "tokens_active_name" in sql)
    with sqlite3.connect(db) as conn:  # the schema before names were unique
        for script in SQLITE[:step]:
            for statement in script.split(";"):
                conn.execute(statement)
        conn.execute(f"PRAGMA user_version={step}")
        for digest in ("a", "b", "c"):  # two active tokens share a name
            conn.execute(
                "INSERT INTO tokens (name, digest, created_at, revoked_at) VALUES (?, ?, 1, ?)",
                ("shared", digest * 64, 5 if digest == "c" else 0),
            )
    async with SQLiteStore(str(db)) as store:
        names = [(t.id, t.name, t.active) for t in await store.list_tokens()]
        assert names == [(1, "shared", True), (2, "shared #2", True), (3, "shared", False)]
        assert await store.revoke_token("shared") == 1

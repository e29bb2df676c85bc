"""``dylive token``: list, update and revoke refuse a database that does not exist (no empty file
from a typo); names are unique among active tokens; update and revoke take a name or ``--id``;
update changes only the options given, checked before the database is opened; a database made
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
    for args in (
        ["list"],
        ["revoke", "x"],
        ["revoke", "--id", "1"],
        ["update", "x", "--rate", "1"],
    ):
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


async def test_update_changes_the_options_given_by_name_or_id(tmp_path: Path) -> None:
    db = str(tmp_path / "t.db")
    plan = ["--rate", "2", "--requests-per-day", "10", "--expires-in", "3600"]
    assert token("create", "--name", "c", *plan, "--db", db).returncode == 0
    assert token("create", "--name", "other", "--db", db).returncode == 0
    done = token("update", "c", "--requests-per-day", "20", "--messages-per-month", "9", "--db", db)
    assert done.returncode == 0, done.stderr
    assert done.stdout == (
        "updated the token named 'c': quota.requests_per_day 10 -> 20,"
        " quota.messages_per_month 0 -> 9\n"
    )
    done = token("update", "--id", "1", "--no-expiry", "--room-limit", "4", "--db", db)
    assert done.returncode == 0 and done.stdout.startswith("updated the token id 1: room_limit")
    assert done.stdout.endswith(" -> never\n")
    assert token("update", "c", "--db", db).stdout == "updated the token named 'c': unchanged\n"
    async with SQLiteStore(db) as store:
        record = (await store.list_tokens())[0]
    assert (record.rate, record.room_limit, record.expires_at) == (2.0, 4, 0)
    assert (record.quota.requests_per_day, record.quota.messages_per_month) == (20, 9)
    # refused in one line: a bad value (before the database is opened), a taken name, no token
    bad = token("update", "c", "--requests-per-day", "-1", "--db", str(tmp_path / "nothing.db"))
    assert bad.returncode == 1 and bad.stdout == ""
    assert (
        bad.stderr == "dylive token: quota.requests_per_day must be a number between 0 and 1e+12\n"
    )
    taken = token("update", "c", "--name", "other", "--db", db)
    assert taken.stderr == "dylive token: an active token is already named 'other' (id 2)\n"
    assert token("revoke", "other", "--db", db).returncode == 0
    gone = token("update", "other", "--rate", "1", "--db", db)
    assert gone.returncode == 1 and gone.stderr == "dylive token: no active token named 'other'\n"
    renamed = token("update", "c", "--name", "other", "--db", db)
    assert renamed.stdout == "updated the token named 'c': name 'c' -> 'other'\n"


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

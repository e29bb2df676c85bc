"""Commands that read or change a database never create one: without ``--db`` (and without
DYLIVE_DB) `dylive webhook …` and `dylive identities list|check|remove` refuse in one line, as
`token list`, `report` and `export` do, instead of leaving an empty dylive.sqlite3 in the
current folder. `webhook add`'s refusal of a loopback target names the command's own flag."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from dylive.cli import main
from dylive.deliver.targets import TargetRefused, resolve_target
from dylive.serve import tokens
from dylive.store import open_store

REFUSING = [
    ["webhook", "add", "--token", "ops", "--url", "https://example.com/h", "--room", "123456"],
    ["webhook", "list"],
    ["webhook", "remove", "1"],
    ["identities", "list"],
    ["identities", "check"],
    ["identities", "remove", "someone"],
    ["doctor", "--identity", "someone", "--upstream", "http://127.0.0.1:9"],
    ["token", "list"],
    ["export", "--room", "1"],
]


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DYLIVE_DB", raising=False)
    return tmp_path


@pytest.mark.parametrize("argv", REFUSING, ids=lambda a: " ".join(a[:2]))
def test_no_database_is_created_without_db(
    folder: Path, argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) != 0
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert "no database file at 'dylive.sqlite3'" in err, err
    if argv[0] in ("webhook", "identities", "export", "doctor"):
        assert "(the default; give --db PATH_OR_URL or set DYLIVE_DB)" in err, err
    assert list(folder.iterdir()) == [], "a database file was created"


def test_a_mistyped_db_is_refused_too(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["webhook", "list", "--db", "dyilve.sqlite3"]) == 1
    err = capsys.readouterr().err
    assert "no database file at 'dyilve.sqlite3'" in err and "the default" not in err
    assert main(["identities", "list", "--db", "dyilve.sqlite3"]) == 1
    assert list(folder.iterdir()) == []


def test_identities_add_creates_the_database(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Adding is how a pool is set up before the service first runs (as `token create`)."""
    assert main(["identities", "add", "a", "--cookie", "sessionid=abcdef123456"]) == 0
    assert (folder / "dylive.sqlite3").is_file()
    capsys.readouterr()
    assert main(["identities", "list"]) == 0
    assert capsys.readouterr().out.splitlines()[1].startswith("a\t")


def test_webhook_add_names_its_own_flag(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = str(folder / "w.sqlite3")

    async def make_token() -> None:
        async with open_store(db) as store:
            await tokens.create(store, "ops")

    asyncio.run(make_token())
    args = ["webhook", "add", "--db", db, "--token", "ops", "--room", "123456"]
    assert main([*args, "--url", "http://127.0.0.1:9/hook"]) == 1
    err = capsys.readouterr().err
    assert "loopback" in err and "add --allow-private-webhooks to this command" in err, err
    assert main([*args, "--url", "http://127.0.0.1:9/hook", "--allow-private-webhooks"]) == 0


async def test_the_service_names_its_flag() -> None:
    """The same refusal from the running service (HTTP API) says how to start the service."""
    with pytest.raises(TargetRefused, match="start the service with --allow-private-webhooks"):
        await resolve_target("http://127.0.0.1:9/hook", allow_private=False)

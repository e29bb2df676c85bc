"""``dylive token create`` takes the plan the admin API takes (quotas, expiry), checked by the same
code (dylive.serve.token_plan): the stored token has it; bad values are a one-line error, exit 1,
and nothing is stored."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from dylive.cli import build_parser
from dylive.store import Quota, TokenRecord, open_store


def create(db: Path, *argv: str) -> int:
    parsed = build_parser().parse_args(["token", "create", "--db", str(db), *argv])
    code: int = parsed.func(parsed)
    return code


def stored(db: Path) -> list[TokenRecord]:
    async def listing() -> list[TokenRecord]:
        async with open_store(str(db)) as store:
            return await store.list_tokens()

    return asyncio.run(listing())


def test_quotas_and_expiry_are_stored(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "t.sqlite3"
    before = time.time()
    argv = ("--name", "plan", "--room-limit", "4", "--rate", "2.5", "--requests-per-day", "100")
    assert create(db, *argv, "--messages-per-month", "5000", "--expires-in", "3600") == 0
    secret = capsys.readouterr().out.strip()
    assert secret.startswith("dyl_")
    (record,) = stored(db)
    assert (record.name, record.room_limit, record.rate) == ("plan", 4, 2.5)
    assert record.quota == Quota(requests_per_day=100, messages_per_month=5000)
    assert before + 3600 <= record.expires_at / 1000 <= time.time() + 3600
    assert create(db, "--name", "until", "--expires-at", "2030-01-02T03:04:05Z") == 0
    assert create(db, "--name", "epoch", "--expires-at", "1900000000") == 0
    expiry = {r.name: r.expires_at for r in stored(db)}
    assert expiry["until"] == 1893553445000 and expiry["epoch"] == 1_900_000_000_000
    assert create(db, "--name", "plain") == 0  # no plan: unlimited, never expires
    plain = next(r for r in stored(db) if r.name == "plain")
    assert plain.quota == Quota() and plain.expires_at == 0 and plain.room_limit == 10


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ("--requests-per-day", "-1"),
            "quota.requests_per_day must be a number between 0 and 1e+12",
        ),
        (("--rate", "nan"), "rate must be a number between 0 and 1e+06"),
        (("--room-limit", "-2"), "room_limit must be an integer 0-1000000"),
        (("--expires-at", "2001-01-01"), "expires_at is in the past"),
        (("--expires-at", "inf"), "expires_at must be an ISO time or epoch seconds"),
        (("--expires-at", "next week"), "expires_at: not a date (YYYY-MM-DD) or ISO time"),
        (("--expires-in", "1e12"), "expires_in must be a number between 0 and 3.1536e+08"),
    ],
)
def test_bad_plans_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: tuple[str, ...], message: str
) -> None:
    db = tmp_path / "t.sqlite3"
    assert create(db, "--name", "bad", *argv) == 1
    assert f"dylive token: {message}" in capsys.readouterr().err
    assert not db.exists()  # refused before the database is created


def test_expiry_is_one_option(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        create(tmp_path / "t.sqlite3", "--name", "x", "--expires-at", "1", "--expires-in", "1")
    assert "not allowed with argument" in capsys.readouterr().err

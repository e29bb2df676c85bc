"""``dylive serve`` takes --idle-timeout / --retention-hours from DYLIVE_IDLE_TIMEOUT /
DYLIVE_RETENTION_HOURS when the options are absent; bad values are a clear error, exit 1."""

from __future__ import annotations

import pytest

from dylive.cli import build_parser
from dylive.serve.cli import serve_config


def args(*argv: str) -> object:
    return build_parser().parse_args(["serve", *argv])


def test_defaults_and_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DYLIVE_IDLE_TIMEOUT", raising=False)
    monkeypatch.delenv("DYLIVE_RETENTION_HOURS", raising=False)
    config = serve_config(args())  # type: ignore[arg-type]
    assert (config.idle_timeout, config.retention_hours) == (300.0, 0.0)
    monkeypatch.setenv("DYLIVE_IDLE_TIMEOUT", "45")
    monkeypatch.setenv("DYLIVE_RETENTION_HOURS", "72")
    config = serve_config(args())  # type: ignore[arg-type]
    assert (config.idle_timeout, config.retention_hours) == (45.0, 72.0)
    config = serve_config(args("--idle-timeout", "5", "--retention-hours", "1.5"))  # type: ignore[arg-type]
    assert (config.idle_timeout, config.retention_hours) == (5.0, 1.5)


def test_bad_values_exit_1(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    parsed = args("--db", "/nonexistent/never.sqlite3")
    monkeypatch.setenv("DYLIVE_IDLE_TIMEOUT", "soon")
    assert parsed.func(parsed) == 1  # type: ignore[attr-defined]
    assert "DYLIVE_IDLE_TIMEOUT must be a number, not 'soon'" in capsys.readouterr().err
    monkeypatch.delenv("DYLIVE_IDLE_TIMEOUT")
    parsed = args("--retention-hours", "-1")
    assert parsed.func(parsed) == 1  # type: ignore[attr-defined]
    assert "retention-hours must be a number >= 0" in capsys.readouterr().err


def test_follow_schedule_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DYLIVE_FOLLOW_INTERVAL", raising=False)
    monkeypatch.delenv("DYLIVE_FOLLOW_CEILING", raising=False)
    config = serve_config(args())  # type: ignore[arg-type]
    assert (config.follow_interval, config.follow_ceiling) == (10.0, 600.0)
    monkeypatch.setenv("DYLIVE_FOLLOW_INTERVAL", "5")
    monkeypatch.setenv("DYLIVE_FOLLOW_CEILING", "120")
    config = serve_config(args())  # type: ignore[arg-type]
    assert (config.follow_interval, config.follow_ceiling) == (5.0, 120.0)
    monkeypatch.setenv("DYLIVE_FOLLOW_INTERVAL", "0")  # never a busy loop
    assert serve_config(args()).follow_interval == 1.0  # type: ignore[arg-type]


def test_usage_and_audit_retention(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DYLIVE_USAGE_RETENTION_DAYS", raising=False)
    monkeypatch.delenv("DYLIVE_AUDIT_RETENTION_DAYS", raising=False)
    config = serve_config(args())  # type: ignore[arg-type]
    assert (config.usage_retention_days, config.audit_retention_days) == (400.0, 0.0)
    monkeypatch.setenv("DYLIVE_USAGE_RETENTION_DAYS", "0")
    monkeypatch.setenv("DYLIVE_AUDIT_RETENTION_DAYS", "90")
    config = serve_config(args())  # type: ignore[arg-type]
    assert (config.usage_retention_days, config.audit_retention_days) == (0.0, 90.0)
    parsed = args("--usage-retention-days", "35", "--audit-retention-days", "365.5")
    config = serve_config(parsed)  # type: ignore[arg-type]
    assert (config.usage_retention_days, config.audit_retention_days) == (35.0, 365.5)


@pytest.mark.parametrize(
    ("argv", "env", "message"),
    [
        (("--usage-retention-days", "-1"), "", "usage-retention-days must be a number >= 0"),
        (("--audit-retention-days", "-0.5"), "", "audit-retention-days must be a number >= 0"),
        ((), "-3", "audit-retention-days must be a number >= 0, not -3.0"),
        ((), "forever", "DYLIVE_AUDIT_RETENTION_DAYS must be a number, not 'forever'"),
    ],
)
def test_bad_retention_days_exit_1(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    argv: tuple[str, ...],
    env: str,
    message: str,
) -> None:
    monkeypatch.delenv("DYLIVE_USAGE_RETENTION_DAYS", raising=False)
    if env:
        monkeypatch.setenv("DYLIVE_AUDIT_RETENTION_DAYS", env)
    parsed = args("--db", "/nonexistent/never.sqlite3", *argv)
    assert parsed.func(parsed) == 1  # type: ignore[attr-defined]
    assert message in capsys.readouterr().err

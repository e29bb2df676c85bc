"""`--log-format json` (or DYLIVE_LOG_FORMAT=json): every log line on stderr is one JSON object
(time, level, logger, message, exception), the HTTP server's own lines included."""

from __future__ import annotations

import asyncio
import json
import logging
import signal
from datetime import datetime
from pathlib import Path

from support.process import run_dylive, start_serve
from support.waiting import until

from dylive.cli import JsonFormatter

KEYS = {"time", "level", "logger", "message"}


def objects(text: str) -> list[dict[str, str]]:
    lines = [json.loads(line) for line in text.splitlines() if line.strip()]
    assert all(KEYS <= set(line) for line in lines), lines
    return lines


async def test_a_command_logs_json_lines(tmp_path: Path) -> None:
    db = str(tmp_path / "x.sqlite3")
    code, out, err = await run_dylive(
        "--log-format", "json", "token", "create", "--db", db, "--name", "a"
    )
    assert code == 0 and out.startswith("dyl_")
    lines = objects(err)
    assert any(line["message"].startswith("sqlite: applying migration") for line in lines)
    assert all(line["level"] == "INFO" for line in lines)
    assert datetime.fromisoformat(lines[0]["time"]).tzinfo is not None
    code, _, err = await run_dylive("--log-format", "xml", "token", "list")
    assert code == 2 and "invalid choice: 'xml'" in err


async def test_the_service_logs_json_lines(tmp_path: Path) -> None:
    log = tmp_path / "serve.log"
    proc, base = await start_serve(
        str(tmp_path / "s.sqlite3"), "http://127.0.0.1:9", log_level="info",
        env={"DYLIVE_LOG_FORMAT": "json"}, log=log,
    )  # fmt: skip
    try:
        host, port = base.removeprefix("http://").split(":")
        reader, writer = await asyncio.open_connection(host, int(port))
        writer.write(b"NOT HTTP\x00\r\n\r\n")  # refused by the HTTP parser: the server logs it
        await writer.drain()
        await reader.read()
        writer.close()
        proc.send_signal(signal.SIGTERM)
        await until(lambda: proc.returncode is not None, 30, "the service stopping")
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    lines = objects(log.read_text())
    loggers = {line["logger"] for line in lines}
    assert "uvicorn.error" in loggers and "dylive.store.sqlite.engine" in loggers, lines


def test_exceptions_are_one_field() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed %s", ("here",), None)
        import sys

        record.exc_info = sys.exc_info()
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "failed here" and line["level"] == "ERROR"
    assert "ValueError: boom" in line["exception"] and "\n" not in JsonFormatter().format(record)

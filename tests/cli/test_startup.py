"""Start-up failures are one line on stderr and a non-zero exit; the demo keeps its simulator port
across a quick restart (TIME-WAIT) and prints commands that work as pasted."""

from __future__ import annotations

import asyncio
import errno
import os
import shlex
import signal
import socket
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import orjson
import pytest
from support.process import run_dylive

DYLIVE = [sys.executable, "-m", "dylive"]


def one_line_error(code: int, err: str, prefix: str) -> str:
    assert code != 0
    assert "Traceback" not in err and "never retrieved" not in err, err
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(prefix), err
    return lines[0]


async def test_serve_on_a_missing_directory(tmp_path: Path) -> None:
    db = str(tmp_path / "no" / "such" / "dir" / "x.db")
    code, _, err = await run_dylive("serve", "--db", db, "--port", "0")
    assert db in one_line_error(code, err, "dylive serve: ")


async def test_serve_on_an_unreachable_postgres() -> None:
    pytest.importorskip("psycopg")
    code, _, err = await run_dylive(
        "serve", "--db", "postgresql://nobody@127.0.0.1:1/x", "--port", "0"
    )
    assert "127.0.0.1" in one_line_error(code, err, "dylive serve: ")


@pytest.mark.parametrize("command", [["serve", "--db", "{tmp}/x.db"], ["sim"]])
async def test_a_busy_port(tmp_path: Path, command: list[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        args = [a.replace("{tmp}", str(tmp_path)) for a in command]
        code, _, err = await run_dylive(*args, "--port", port)
    line = one_line_error(code, err, f"dylive {command[0]}: ")
    assert f"127.0.0.1:{port}" in line and "in use" in line


def time_wait_port() -> int:
    """A local port with a connection in TIME-WAIT on it (this side closed first)."""
    with socket.socket() as server:
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = int(server.getsockname()[1])
        client = socket.create_connection(("127.0.0.1", port))
        conn, _ = server.accept()
        conn.close()  # the listening side closes first: its end goes to TIME-WAIT
        client.close()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:  # a plain bind (no address reuse) now fails
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError as exc:
                assert exc.errno == errno.EADDRINUSE
                return port
        time.sleep(0.01)
    pytest.skip("could not produce a TIME-WAIT connection on this machine")


@asynccontextmanager
async def demo(tmp_path: Path, sim_port: int) -> AsyncIterator[list[str]]:
    """``dylive demo`` running; yields its output lines up to "Ctrl-C to stop."."""
    proc = await asyncio.create_subprocess_exec(
        *DYLIVE, "--log-level", "warning", "demo", "--db", str(tmp_path / "demo.sqlite3"),
        "--port", "0", "--sim-port", str(sim_port),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "DYLIVE_SIGNING": "off"},
    )  # fmt: skip
    assert proc.stdout is not None
    lines: list[str] = []
    try:
        async with asyncio.timeout(60):
            while not lines or lines[-1] != "Ctrl-C to stop.":
                raw = await proc.stdout.readline()
                assert raw, f"demo exited: {lines}"
                lines.append(raw.decode().rstrip("\n"))
        yield lines
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGINT)
            try:
                await asyncio.wait_for(proc.wait(), 30)
            except TimeoutError:
                proc.kill()
                await proc.wait()


def pasted(lines: list[str], startswith: str) -> list[str]:
    """The argv of the first printed command line starting with ``startswith`` (a path to the
    dylive script, such as ``.venv/bin/dylive``, counts as ``dylive``)."""
    for line in lines:
        text = line.strip()
        if text.split(" ", 1)[0].endswith("/dylive"):
            text = "dylive " + text.split(" ", 1)[1]
        if text.startswith(startswith):
            return shlex.split(text)
    raise AssertionError(f"no {startswith!r} line in {lines}")


async def test_demo_takes_its_port_back_and_prints_working_commands(tmp_path: Path) -> None:
    port = time_wait_port()
    async with demo(tmp_path, port) as lines:
        text = "\n".join(lines)
        sim = f"http://127.0.0.1:{port}"
        assert f"simulator at {sim}," in text, text
        # the offline demo room is listed with the others
        assert any("11052815917" in line and "offline" in line for line in lines), text
        watch = pasted(lines, "dylive watch")
        assert watch[watch.index("--upstream") + 1] == sim
        # the decode line: fetch as the curl does, then decode as printed
        curl = pasted(lines, "curl -s")
        url = curl[2]
        assert url.startswith(f"{sim}/webcast/im/fetch/")
        async with httpx.AsyncClient() as client:
            body = (await client.get(url)).content
        capture = tmp_path / "fetch.bin"
        capture.write_bytes(body)
        code, out, err = await run_dylive("decode", str(capture))
        assert code == 0, err
        messages = [orjson.loads(line) for line in out.splitlines()]
        assert messages and all("method" in m for m in messages)
        # the watch line as printed, in JSON lines: a live room's messages arrive
        proc = await asyncio.create_subprocess_exec(
            *DYLIVE, *watch[1:], "--format", "jsonl", stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        assert proc.stdout is not None
        try:
            first = await asyncio.wait_for(proc.stdout.readline(), 60)
        finally:
            proc.kill()
            await proc.wait()
        assert orjson.loads(first)["method"].startswith("Webcast")


async def test_demo_moves_off_a_port_another_program_holds(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        async with demo(tmp_path, port) as lines:
            note = lines[0]
            assert note.startswith(f"note: simulator port {port} is taken; using "), lines
            moved = int(note.rsplit(" ", 1)[1])
            watch = pasted(lines, "dylive watch")
            assert watch[watch.index("--upstream") + 1] == f"http://127.0.0.1:{moved}"

"""What a new user meets first: the licence the package declares, `dylive --help`, `make run`'s
first message, `dylive demo`'s note about a taken port, `dylive decode … | head`, the doctor's
long watch, and the `all` extra."""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest

from dylive.sim import SimConfig, SimServer

ROOT = Path(__file__).resolve().parents[1]
DYLIVE = [sys.executable, "-m", "dylive"]
CAPTURE = ROOT / "tests" / "fixtures" / "captures" / "imfetch-2021-12.hex"


def test_the_declared_licence_is_in_the_repository() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["license"] == "MIT"
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert text.startswith("MIT License") and "WITHOUT WARRANTY OF ANY KIND" in text


def test_the_all_extra_is_every_optional_part() -> None:
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"][
        "optional-dependencies"
    ]
    parts = {name for name in extras if name not in ("all", "dev")}
    (only,) = extras["all"]
    assert only.startswith("dylive[") and set(only[7:-1].split(",")) == parts, only


def test_help_names_every_export_format() -> None:
    done = subprocess.run([*DYLIVE, "--help"], capture_output=True, text=True, timeout=60)
    text = " ".join(done.stdout.split())  # help wraps long lines
    export = text.split(" export ", 1)[1].split(" report ", 1)[0]
    assert "JSON lines" in export and "CSV" in export and "Parquet" in export, export


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_a_cold_make_run_says_what_it_installs(tmp_path: Path) -> None:
    for name in ("Makefile", "pyproject.toml"):
        shutil.copy(ROOT / name, tmp_path / name)
    done = subprocess.run(
        ["make", "-n", "-C", str(tmp_path), "run"], capture_output=True, text=True, timeout=60
    )
    lines = done.stdout.splitlines()
    first_pip = next(i for i, line in enumerate(lines) if "pip install" in line)
    assert any("Installing dylive" in line for line in lines[:first_pip]), done.stdout


def test_the_demo_says_first_that_a_port_was_taken(tmp_path: Path) -> None:
    """The note comes before the store's and the simulator's log lines (one terminal: both
    streams in one pipe here), not buried under them."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        cmd = [*DYLIVE, "demo", "--db", str(tmp_path / "demo.sqlite3"), "--port", "0"]
        proc = subprocess.Popen(
            [*cmd, "--sim-port", str(port)],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=tmp_path,
        )  # fmt: skip
        assert proc.stdout is not None
        lines: list[str] = []
        try:
            deadline = time.monotonic() + 60
            while not any(line.startswith("Demo token:") for line in lines):
                assert time.monotonic() < deadline and proc.poll() is None, lines
                lines.append(proc.stdout.readline())
        finally:
            proc.terminate()
            proc.communicate(timeout=30)
    assert lines[0].startswith(f"note: simulator port {port} is taken; using "), lines[:3]
    assert any("applying migration" in line for line in lines), lines  # a cold store logs


def test_decode_into_a_closed_pipe_stops_quietly() -> None:
    """`dylive decode fetch.bin | head -3`: the reader leaves early; no BrokenPipeError."""
    done = subprocess.run(
        ["bash", "-c", f"{' '.join(DYLIVE)} decode --hex {CAPTURE} | head -3"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert len(done.stdout.splitlines()) == 3
    assert done.stderr == "", done.stderr
    # deterministic: the pipe is closed before the first line is written
    proc = subprocess.Popen(
        [*DYLIVE, "decode", "--hex", str(CAPTURE)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()
    err = proc.stderr.read().decode()
    proc.stderr.close()
    assert proc.wait(timeout=60) == 0
    assert "Traceback" not in err and "BrokenPipe" not in err, err


async def test_the_doctor_says_it_watches_before_it_does(tmp_path: Path) -> None:
    async with SimServer(SimConfig(seed=3)) as sim:
        proc = await asyncio.create_subprocess_exec(
            *DYLIVE, "doctor", "--upstream", sim.base_url, "--watch", "2", cwd=tmp_path,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        _, err = await asyncio.wait_for(proc.communicate(), 90)
    assert "gift visibility: watching the room up to 2 s…" in err.decode(), err.decode()

"""The commands `make run` (``dylive demo``) prints run when pasted into the same shell: ``dylive``
is spelled as that shell finds it (``.venv/bin/dylive`` unless the venv is on the PATH)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dylive.serve.demo import dylive_command, path_hint

SCRIPT = Path(sys.executable).parent / "dylive"  # the console script of this environment
needs_script = pytest.mark.skipif(not SCRIPT.is_file(), reason="no dylive console script here")


@needs_script
def test_spelled_as_the_shell_finds_it(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    venv = SCRIPT.parent.parent
    monkeypatch.chdir(venv.parent)
    monkeypatch.setenv("PATH", "/usr/bin:/bin")  # the venv not on the PATH: a relative path
    shown = f"{venv.name}/bin/dylive"
    assert dylive_command(str(SCRIPT)) == shown
    assert dylive_command("/some/where/dylive/__main__.py", sys.executable) == shown  # -m
    assert path_hint(shown) == (
        f'(to type just `dylive`: export PATH="$PWD/{venv.name}/bin:$PATH",'
        f" or source {venv.name}/bin/activate)\n"
    )
    monkeypatch.chdir(tmp_path)  # not under the current folder: the full path
    assert dylive_command(str(SCRIPT)) == str(SCRIPT)
    assert path_hint(str(SCRIPT)).startswith(
        f'(to type just `dylive`: export PATH="{SCRIPT.parent}:'
    )
    monkeypatch.setenv("PATH", f"{SCRIPT.parent}:/usr/bin:/bin")  # on the PATH: just dylive
    assert dylive_command(str(SCRIPT)) == "dylive"
    assert path_hint("dylive") == ""


def test_without_a_script_it_is_python_m(tmp_path: Path) -> None:
    python = str(tmp_path / "bin" / "python3")
    assert dylive_command(str(tmp_path / "x" / "__main__.py"), python) == f"{python} -m dylive"
    assert path_hint(f"{python} -m dylive") == ""


@needs_script
def test_the_printed_watch_command_runs_when_pasted(tmp_path: Path) -> None:
    """`make run` runs `.venv/bin/dylive demo` from the checkout with the venv not on the PATH;
    the printed `… watch … --format jsonl | head` pasted into that shell prints events."""
    cwd = SCRIPT.parent.parent.parent
    env = {**os.environ, "PATH": "/usr/bin:/bin"}
    env.pop("VIRTUAL_ENV", None)
    cmd = [str(SCRIPT.relative_to(cwd)), "demo", "--port", "0", "--sim-port", "0"]
    proc = subprocess.Popen(
        [*cmd, "--db", str(tmp_path / "demo.sqlite3")],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=cwd, env=env,
    )  # fmt: skip
    assert proc.stdout is not None
    lines: list[str] = []
    try:
        deadline = time.monotonic() + 60
        while not lines or not lines[-1].startswith("Ctrl-C to stop."):
            assert time.monotonic() < deadline and proc.poll() is None, lines
            lines.append(proc.stdout.readline())
        (watch,) = [ln.strip() for ln in lines if "--format jsonl | head" in ln]
        assert watch.startswith(f"{SCRIPT.relative_to(cwd)} watch "), watch
        assert any(ln.startswith("(to type just `dylive`: export PATH=") for ln in lines), lines
        done = subprocess.run(
            ["bash", "-c", watch.replace("| head", "| head -3")],
            capture_output=True, text=True, cwd=cwd, env=env, timeout=90,
        )  # fmt: skip
    finally:
        proc.terminate()
        proc.communicate(timeout=30)
    assert "command not found" not in done.stderr, done.stderr
    events = [json.loads(line) for line in done.stdout.splitlines()]
    assert len(events) == 3 and all("method" in e for e in events), done.stdout


def test_the_report_page_link_carries_the_token() -> None:
    """Opened in a fresh browser (no token stored yet), the printed report link still works."""
    from dylive.serve.demo import curl_lines

    lines = curl_lines("http://127.0.0.1:8000", "dyl_x").splitlines()
    assert "  http://127.0.0.1:8000/report?session=<id>&token=dyl_x" in lines

"""The documentation stands alone and its examples run: every Python example in README.md and
docs/*.md that uses the simulator is executed against it; every shell example that calls the API
service is run by bash against a real `dylive serve` on the simulator; local links resolve;
nothing points outside the repository; every command in the README's table exists."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dylive.cli import build_parser
from dylive.sim import SimConfig, SimServer

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
SIM_URL = "http://127.0.0.1:9000"  # what the examples say: the simulator of `make run`
FENCE = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


def examples() -> list[tuple[str, str]]:
    """The Python examples that talk to the simulator (others, such as a webhook receiver, are
    exercised by the tests of their own part)."""
    found = []
    for doc in DOCS:
        for i, match in enumerate(FENCE.finditer(doc.read_text(encoding="utf-8")), start=1):
            if SIM_URL in match.group(1):
                found.append((f"{doc.relative_to(ROOT)}#{i}", match.group(1)))
    return found


def test_there_are_examples_to_run() -> None:
    names = [name for name, _ in examples()]
    assert any(n.startswith("README.md") for n in names)
    assert sum(n.startswith("docs/library.md") for n in names) >= 2


@pytest.mark.parametrize(("name", "code"), examples(), ids=[n for n, _ in examples()])
async def test_python_example_runs(name: str, code: str, tmp_path: Path) -> None:
    async with SimServer(SimConfig(seed=21, rate=40.0, tick=0.05)) as sim:
        script = tmp_path / "example.py"
        script.write_text(code.replace(SIM_URL, sim.base_url), encoding="utf-8")
        proc = await asyncio.create_subprocess_exec(
            sys.executable, str(script), cwd=tmp_path,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            env={**os.environ, "DYLIVE_LOG_LEVEL": "warning"},
        )  # fmt: skip
        out, err = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode == 0, f"{name} failed:\n{err.decode()}"
    assert out.strip(), f"{name} printed nothing"
    assert "Traceback" not in err.decode()


def test_no_link_leaves_the_repository_and_local_links_resolve() -> None:
    link = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")
    for doc in DOCS:
        text = doc.read_text(encoding="utf-8")
        assert "../shared" not in text, f"{doc.name} refers to ../shared"
        assert "(pure, done)" not in text and "(sans-I/O, done)" not in text, doc.name
        for target in link.findall(text):
            if target.startswith(("http://", "https://")):
                continue
            assert (doc.parent / target).exists(), f"{doc.name}: broken link {target}"


def test_every_command_in_the_readme_exists() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    commands = set(re.findall(r"^\| `dylive (\w+)", text, re.M))
    assert {"serve", "demo", "token", "watch", "sim", "export", "decode"} <= commands
    parser = build_parser()
    for command in commands:
        done = subprocess.run(
            [sys.executable, "-m", "dylive", command, "--help"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, (command, done.stderr)
    assert parser.prog == "dylive"


SH_FENCE = re.compile(r"^```sh\n(.*?)^```\n(?:\n```(\w*)\n(.*?)^```)?", re.S | re.M)
API_URL = "http://127.0.0.1:8000"  # what the shell examples say: the API service of `make run`
ADMIN_KEY = "docs-admin-key-0123456789"  # the admin API examples send $DYLIVE_ADMIN_KEY


def shell_examples() -> list[tuple[str, str, str]]:
    """The shell examples that call the API service: (name, commands, the output shown after)."""
    found = []
    for doc in DOCS:
        for i, match in enumerate(SH_FENCE.finditer(doc.read_text(encoding="utf-8")), start=1):
            if API_URL in match.group(1):
                found.append(
                    (f"{doc.relative_to(ROOT)}#sh{i}", match.group(1), match.group(3) or "")
                )
    return found


def test_no_shell_example_quotes_a_variable_away() -> None:
    """`'…$T…'` sends a literal `$T`: a variable in a shell example is in double quotes."""
    single = re.compile(r"'[^'\n]*\$\{?[A-Za-z_][^'\n]*'")
    checked = 0
    for doc in DOCS:
        for match in re.finditer(
            r"^```(?:sh|bash|console)\n(.*?)^```", doc.read_text("utf-8"), re.S | re.M
        ):
            for line in match.group(1).splitlines():
                checked += "$" in line
                assert not single.search(line), f"{doc.name}: {line}"
    assert checked >= 4


def test_there_are_shell_examples_to_run() -> None:
    assert len(shell_examples()) >= 4


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """A real `dylive serve` (SQLite) on the simulator, as `make run` has it: (base URL, token)."""
    tmp = tmp_path_factory.mktemp("docs-service")
    db = str(tmp / "docs.sqlite3")
    dylive = [sys.executable, "-m", "dylive", "--log-level", "warning"]
    env = {**os.environ, "DYLIVE_LOG_LEVEL": "warning", "DYLIVE_ADMIN_KEY": ADMIN_KEY}
    token = subprocess.run(
        [*dylive, "token", "create", "--db", db, "--name", "docs"],
        capture_output=True, text=True, timeout=60, check=True, env=env,
    ).stdout.strip()  # fmt: skip
    sim = subprocess.Popen(
        [*dylive, "--log-level", "info", "sim", "--port", "0", "--seed", "21", "--rate", "40",
         "--tick", "0.05"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    serve = None
    try:
        sim_url = _listening(sim, "dylive sim listening on ")
        serve = subprocess.Popen(
            [*dylive, "serve", "--db", db, "--port", "0", "--upstream", sim_url],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        )  # fmt: skip
        yield _listening(serve, "dylive serve: listening on "), token
    finally:
        for proc in (serve, sim):
            if proc is not None:
                proc.terminate()
                proc.wait(timeout=30)
                for thread in READERS.pop(proc.pid, []):
                    thread.join(timeout=10)  # at the end of the output
                for stream in (proc.stdout, proc.stderr):
                    assert stream is not None
                    stream.close()


READERS: dict[int, list[threading.Thread]] = {}  # pid → the threads reading its output


def _listening(proc: subprocess.Popen[str], prefix: str) -> str:
    """The URL a starting process announces (on stdout or in its log on stderr)."""
    found: list[str] = []

    def read(stream: Any) -> None:
        for line in stream:
            if prefix in line and not found:
                found.append(line.split(prefix, 1)[1].split()[0])

    for stream in (proc.stdout, proc.stderr):
        thread = threading.Thread(target=read, args=(stream,), daemon=True)
        thread.start()
        READERS.setdefault(proc.pid, []).append(thread)
    deadline = time.monotonic() + 60
    while not found:
        assert proc.poll() is None, f"{proc.args} exited {proc.returncode}"
        assert time.monotonic() < deadline, f"{proc.args} announced no {prefix!r}"
        time.sleep(0.05)
    return found[0]


@pytest.mark.parametrize(
    ("name", "commands", "shown"), shell_examples(), ids=[n for n, _, _ in shell_examples()]
)
def test_shell_example_runs(service: tuple[str, str], name: str, commands: str, shown: str) -> None:
    """Each curl example, run by bash with `T` set, answers what the doc shows after it."""
    base, token = service
    script = commands.replace(API_URL, base).replace("curl ", "curl -sS --max-time 5 ")
    done = subprocess.run(
        ["bash", "-c", script], capture_output=True, text=True, timeout=60, check=False,
        env={**os.environ, "T": token, "DYLIVE_ADMIN_KEY": ADMIN_KEY},
    )  # fmt: skip
    out = done.stdout
    if shown.startswith("retry:"):  # a stream: cut off by --max-time (curl's exit 28)
        assert done.returncode == 28, (name, done.stderr)
        assert out.startswith("retry: 1000") and "event: status" in out, (name, out[:300])
        return
    assert done.returncode == 0, (name, done.stderr)
    if shown.startswith("HTTP/"):  # `curl -i`: the status line, then the JSON body
        assert out.split(" ", 2)[:2] == shown.split(" ", 2)[:2], (name, out[:300])
        shown, out = (
            shown.split("\n\n", 1)[1],
            out.split("\n\n", 1)[1],
        )  # (text mode: CRLF read as LF)
    expected = re.search(r'"code": ?(\d+)', shown)
    assert expected is not None, f"{name}: no code in the output shown"
    assert json.loads(out)["code"] == int(expected.group(1)), (name, out[:300])

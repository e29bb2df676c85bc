"""The documentation stands alone and its examples run: every Python example in README.md and
docs/*.md that uses the simulator is executed against it; local links resolve; nothing points
outside the repository; every command in the README's table exists."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
from pathlib import Path

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

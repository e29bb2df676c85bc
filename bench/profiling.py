"""Sampling profiles for the benchmarks: py-spy attached to a running process by pid.

``attach(pid, path)`` starts ``py-spy record`` (collapsed stacks, ``--format raw``) on a benchmark's
service process; ``detach(proc)`` stops it with SIGINT so that it writes the file; ``summary(path)``
prints where the samples were: by leaf function (self time) and by any function on the stack
(inclusive time), as a share of all samples; ``stages(path)`` splits the samples by the part of the
service they were spent in (module path of the innermost frame that belongs to a known part, see
``STAGES``). py-spy is a dev extra (``pip install -e '.[dev]'``);
without it ``attach`` says so and returns None. ``DYLIVE_SPY_GIL=1``: only samples holding the GIL;
``DYLIVE_SPY_NATIVE=1``: C frames too (uvloop, libuv, extensions; py-spy then pauses the process
for each sample, which slows it).
"""

from __future__ import annotations

import collections
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path


def attach(pid: int, path: str | Path, *, rate: int = 250) -> subprocess.Popen[bytes] | None:
    exe = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(exe).exists():
        print("profile: py-spy is not installed (pip install -e '.[dev]'); no profile taken")
        return None
    cmd = [exe, "record", "--pid", str(pid), "--rate", str(rate), "--format", "raw"]
    cmd += ["--output", str(path)]
    if os.environ.get("DYLIVE_SPY_GIL"):
        cmd.append("--gil")
    if os.environ.get("DYLIVE_SPY_NATIVE"):  # C frames too (uvloop, libuv); pauses the process
        cmd.append("--native")
    else:
        cmd.append("--nonblocking")
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def detach(proc: subprocess.Popen[bytes] | None) -> None:
    """SIGINT (py-spy then writes its file), SIGKILL after 20 s."""
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _frame(text: str) -> str:
    """``func (path/to/file.py:12)`` → ``func (file.py)``: lines of one function merged."""
    name, _, where = text.partition(" (")
    file = where.rsplit(":", 1)[0].rsplit("/", 1)[-1]
    return f"{name} ({file})"


def summary(path: str | Path, *, top: int = 25, title: str = "") -> str:
    """The top functions by self and by inclusive share of the samples in a raw py-spy file."""
    own: collections.Counter[str] = collections.Counter()
    incl: collections.Counter[str] = collections.Counter()
    total = 0
    for line in Path(path).read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        frames = [_frame(f) for f in stack.split(";") if f]
        if not frames:
            continue
        total += n
        own[frames[-1]] += n
        for f in set(frames):
            incl[f] += n
    if not total:
        return f"profile {title}: no samples"
    lines = [f"profile {title}: {total} samples ({path})", "  self %  function"]
    lines += [f"  {100 * n / total:6.1f}  {f}" for f, n in own.most_common(top)]
    lines += ["  incl %  function"]
    lines += [f"  {100 * n / total:6.1f}  {f}" for f, n in incl.most_common(top)]
    return "\n".join(lines)


#: module path fragment → stage; the innermost frame of a sample that matches one decides its stage
STAGES: tuple[tuple[str, str], ...] = (
    ("dylive/decode/", "decode"),
    ("dylive/analytics/", "analytics"),
    ("dylive/source/", "collector"),
    ("dylive/wire/", "collector"),
    ("dylive/collect/", "ingest"),
    ("dylive/store/", "ingest"),
    ("dylive/app/", "fan-out (dylive.app)"),
    ("dylive/serve/", "HTTP"),
    ("dylive/deliver/", "delivery"),
    ("starlette/", "HTTP"),
    ("uvicorn/", "HTTP"),
)
STAGE_ORDER = (
    "collector", "decode", "ingest", "analytics", "HTTP", "fan-out (dylive.app)", "delivery",
    "other",
)  # fmt: skip


def stage_of(stack: list[str]) -> str:
    """The stage of one sample: the innermost frame that lies in a known part (``other``: none
    does — the event loop itself, the interpreter's start-up, threads outside the parts)."""
    for frame in reversed(stack):
        where = frame.partition(" (")[2]
        for fragment, stage in STAGES:
            if fragment in where:
                return stage
    return "other"


def stages(path: str | Path) -> dict[str, float]:
    """Share of the samples (0..1) per stage (see :func:`stage_of`); empty without samples."""
    counts: collections.Counter[str] = collections.Counter()
    for line in Path(path).read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            counts[stage_of([f for f in stack.split(";") if f])] += int(count)
    total = sum(counts.values())
    return {s: counts[s] / total for s in STAGE_ORDER if counts[s]} if total else {}


if __name__ == "__main__":
    for arg in sys.argv[1:]:
        print(summary(arg, top=40))

"""``dylive serve`` as a subprocess on port 0: started, its base URL read from its first line."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

LISTENING = b"dylive serve: listening on "


async def start_serve(
    db: str,
    upstream: str,
    *extra: str,
    log_level: str = "warning",
    signing: str = "off",
    env: dict[str, str] | None = None,
    log: Path | None = None,
    within: float = 60,
) -> tuple[asyncio.subprocess.Process, str]:
    """Start ``dylive serve --db DB --upstream UPSTREAM --port 0 EXTRA…``; (process, base URL).

    ``signing`` goes to ``DYLIVE_SIGNING``; ``env`` is added to this process's environment;
    stderr goes to ``log`` when given (and is shown when the server does not come up).
    """
    args = ("--log-level", log_level, "serve", "--db", db, "--upstream", upstream, "--port", "0")
    full_env = {**os.environ, "DYLIVE_SIGNING": signing, **(env or {})}
    with contextlib.ExitStack() as stack:
        errors = stack.enter_context(log.open("wb")) if log is not None else None
        proc = await asyncio.create_subprocess_exec(
            *(sys.executable, "-m", "dylive", *args, *extra),
            stdout=asyncio.subprocess.PIPE,
            stderr=errors,
            env=full_env,
        )
    assert proc.stdout is not None
    try:
        line = await asyncio.wait_for(proc.stdout.readline(), within)
        assert line.startswith(LISTENING), (line, _read(log))
    except BaseException:
        if proc.returncode is None:
            proc.kill()
        await proc.wait()
        raise
    return proc, line.decode().rsplit(" ", 1)[1].strip()


def _read(log: Path | None) -> str:
    return log.read_text(errors="replace") if log is not None else ""


@contextlib.asynccontextmanager
async def serve_process(
    db: str, upstream: str, *extra: str, **options: object
) -> AsyncIterator[tuple[asyncio.subprocess.Process, str]]:
    """:func:`start_serve` as a context: yields (process, base URL); always killed afterwards."""
    proc, base = await start_serve(db, upstream, *extra, **options)  # type: ignore[arg-type]
    try:
        yield proc, base
    finally:
        if proc.returncode is None:
            proc.kill()
        await proc.wait()


async def run_dylive(
    *args: str, env: dict[str, str] | None = None, within: float = 60
) -> tuple[int, str, str]:
    """Run ``python -m dylive ARGS…`` to its end: (exit code, stdout, stderr) as text."""
    proc = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "dylive", *args),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, **env} if env is not None else None,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), within)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode is not None
    return proc.returncode, out.decode(errors="replace"), err.decode(errors="replace")

"""A headless Chromium driven over the DevTools protocol, for the dashboard's browser tests
(skipped where /usr/bin/chromium is absent: ``pytestmark = needs_chromium``)."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-dev-shm-usage",
    "--remote-debugging-address=127.0.0.1",
    "--remote-debugging-port=0",
    "--window-size=1400,900",
]

needs_chromium = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="/usr/bin/chromium is absent (apt-get install -y chromium)"
)


class Page:
    """A minimal DevTools-protocol client for one page target."""

    def __init__(self, ws: Any) -> None:
        self._ws = ws
        self._ids = itertools.count(1)
        self._events: list[dict[str, Any]] | None = None

    def listen(self, into: list[dict[str, Any]]) -> None:
        """Keep the protocol's events (``{"method", "params"}``) that arrive from now on."""
        self._events = into

    async def call(self, method: str, **params: Any) -> dict[str, Any]:
        ident = next(self._ids)
        await self._ws.send(json.dumps({"id": ident, "method": method, "params": params}))
        while True:
            reply = json.loads(await self._ws.recv())
            if "method" in reply and self._events is not None:
                self._events.append(reply)
            if reply.get("id") == ident:
                assert "error" not in reply, reply
                result: dict[str, Any] = reply["result"]
                return result

    async def evaluate(self, expression: str) -> Any:
        result = await self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        assert "exceptionDetails" not in result, result
        return result["result"].get("value")


@contextlib.asynccontextmanager
async def chromium(profile: Path) -> AsyncIterator[Page]:
    proc = await asyncio.create_subprocess_exec(
        str(CHROMIUM),
        *FLAGS,
        f"--user-data-dir={profile}",
        "about:blank",
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert proc.stderr is not None
        port = None
        async with asyncio.timeout(20):
            while port is None:
                line = (await proc.stderr.readline()).decode(errors="replace")
                assert line, "chromium exited before DevTools was listening"
                if found := re.search(r"DevTools listening on ws://[\d.]+:(\d+)/", line):
                    port = int(found.group(1))
        async with httpx.AsyncClient(trust_env=False) as http:
            targets = (await http.get(f"http://127.0.0.1:{port}/json/list")).json()
        url = next(t["webSocketDebuggerUrl"] for t in targets if t["type"] == "page")
        async with websockets.connect(url, max_size=None) as ws:
            yield Page(ws)
    finally:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        await proc.wait()


async def poll_page(page: Page, expression: str, within: float = 25) -> Any:
    """The value of ``expression`` once it is truthy (deadline)."""
    async with asyncio.timeout(within):
        while not (value := await page.evaluate(expression)):  # noqa: ASYNC110 (browser)
            await asyncio.sleep(0.2)
    return value

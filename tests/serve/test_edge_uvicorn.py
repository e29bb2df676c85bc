"""The edge's fast paths repeat uvicorn's code (``on_response_complete`` with the keep-alive a
``Deadline``; ``Responder``, the bytes of ``RequestResponseCycle.send``): they are used only when
the installed uvicorn's code is a version they were checked against (``edgecheck.KNOWN``), else
uvicorn's own methods run, with one log line. The first test fails when a new uvicorn changed that
code: read the change, check ``edge.py`` / ``edgeio.py`` against it, then add its fingerprints."""

from __future__ import annotations

import asyncio
import linecache
import logging
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn
from support.edgekit import until

from dylive.serve import edgecheck
from dylive.serve.edge import http_protocol
from dylive.serve.limits import server_config


@pytest.fixture
def fresh() -> Iterator[None]:
    edgecheck.fast_paths.cache_clear()
    yield
    edgecheck.fast_paths.cache_clear()


def test_the_installed_uvicorn_is_a_checked_version() -> None:
    marks = edgecheck.installed()
    assert edgecheck.drift() == [], (
        f"uvicorn {uvicorn.__version__} changed code the edge repeats: {marks}"
    )


def test_a_fingerprint_ignores_comments_and_layout_not_code() -> None:
    plain = "def a(x):\n    return x + 1\n"
    assert _fingerprint(plain) == _fingerprint(
        "def a(x):\n    # a comment\n\n    return x  +   1  # another\n"
    )
    assert _fingerprint(plain) != _fingerprint("def a(x):\n    return x + 2\n")
    method = "class C:\n    def a(self, x):\n        return x + 1\n"  # indented: dedented first
    assert _fingerprint(method, "C") != _fingerprint(plain)


def _fingerprint(source: str, owner: str = "") -> str:
    """The fingerprint of the function ``a`` (of class ``owner``) defined by ``source``."""
    name = f"<edgecheck-{abs(hash(source))}>"
    linecache.cache[name] = (len(source), None, source.splitlines(keepends=True), name)
    namespace: dict[str, Any] = {}
    exec(compile(source, name, "exec"), namespace)
    function = namespace[owner].a if owner else namespace["a"]
    return edgecheck.fingerprint(function)


async def _serve(fast: bool) -> tuple[list[bool], dict[str, bool]]:
    """Three pipelined GETs and one more on a kept-alive connection to a bare app over the
    httptools edge: whether each scope had ``dylive.respond``, and the connection's timers then
    (which keep-alive timer is armed, whether the header timeout is)."""
    seen: list[bool] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        seen.append("dylive.respond" in scope)
        headers = [(b"content-type", b"text/plain"), (b"content-length", b"2")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"ok"})

    protocol = http_protocol("httptools")
    assert protocol.fast is fast  # type: ignore[attr-defined]
    server = uvicorn.Server(server_config(app, "127.0.0.1", 0, http=protocol, lifespan="off"))
    task = asyncio.create_task(server.serve())
    try:
        await until(lambda: server.started or task.done(), what="uvicorn start")
        port = server.servers[0].sockets[0].getsockname()[1]
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        get = b"GET /x HTTP/1.1\r\nHost: x\r\n\r\n"
        writer.write(get * 3)
        for _ in range(4):
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30)
            assert head.startswith(b"HTTP/1.1 200 ") and await reader.readexactly(2) == b"ok"
            if len(seen) == 3:
                writer.write(get)
        (conn,) = server.server_state.connections
        timers = {
            "uvicorn": conn.timeout_keep_alive_task is not None,  # type: ignore[attr-defined]
            "deadline": getattr(conn, "_keep_alive", None) is not None
            and conn._keep_alive.when is not None,  # type: ignore[attr-defined]
            "headers": conn._header_deadline.when is not None,  # type: ignore[attr-defined]
        }
        writer.close()
        return seen, timers
    finally:
        server.should_exit = True
        await task


@pytest.mark.usefixtures("fresh")
async def test_the_fast_paths_run_on_a_checked_uvicorn() -> None:
    seen, timers = await _serve(fast=True)
    assert seen == [True] * 4
    # the keep-alive a Deadline; the next request's headers are due
    assert timers == {"uvicorn": False, "deadline": True, "headers": True}


@pytest.mark.usefixtures("fresh")
async def test_a_changed_uvicorn_runs_its_own_code(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Fingerprints that match no known version: uvicorn's ``on_response_complete`` (its own
    keep-alive timer) and ``send`` (no ``dylive.respond``), the edge's limits still on."""
    unknown = tuple("0" * 16 for _ in edgecheck.FUNCTIONS)
    monkeypatch.setattr(edgecheck, "KNOWN", frozenset({unknown}))
    with caplog.at_level(logging.WARNING, logger="dylive.serve.edgecheck"):
        seen, timers = await _serve(fast=False)
    assert seen == [False] * 4
    assert timers == {"uvicorn": True, "deadline": False, "headers": True}
    lines = [r.getMessage() for r in caplog.records if r.name == "dylive.serve.edgecheck"]
    assert len(lines) == 1 and "uvicorn's own code is used" in lines[0], lines
    assert "RequestResponseCycle.send" in lines[0]

"""The HTTP edge on both stacks (httptools and h11): what the parser refuses is answered in the
JSON envelope, slow headers and bodies time out, connections are capped, a trailing slash is a
40400 envelope, and a client leaving mid-body is one log line.

Reproductions (issue #22): a 70 KB URL, raw UTF-8 in the query, a NUL in a header and
request-smuggling shapes got a plain-text 400; 100 connections that never finished their
headers stayed open; ``/api/rooms/80017709309/`` answered a bare 307; a client disconnecting
mid-body on ``POST /api/webhooks`` logged an ERROR with a 15-line traceback.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
from pathlib import Path

import pytest
from support.edgekit import STACKS, envelope, exchange, offline, read_all, served, until

from dylive.serve import errors
from dylive.serve.edge import MAX_URL_BYTES, EdgeLimits

H = b"Host: 127.0.0.1\r\n"
LONG = b"a" * 70_000

# (name, request bytes, the code both stacks answer, or None: any envelope — the two parsers
# differ on what they accept (HTTP/0.9, obsolete folding, CL + TE), and what one accepts is
# answered by the application)
PROBES: list[tuple[str, bytes, int | None]] = [
    (
        "url over 64 KiB",
        b"GET /douyin/liveroom/chat?room_id=" + LONG + b" HTTP/1.1\r\n" + H + b"\r\n",
        41401,
    ),
    (
        "raw UTF-8 in the query",
        "GET /douyin/liveroom/chat?room_id=你好 HTTP/1.1\r\n".encode() + H + b"\r\n",
        40007,
    ),
    ("raw UTF-8 in the path", "GET /api/rooms/你好 HTTP/1.1\r\n".encode() + H + b"\r\n", 40007),
    ("NUL in a header value", b"GET /healthz HTTP/1.1\r\n" + H + b"X-A: a\x00b\r\n\r\n", 40007),
    ("NUL in the target", b"GET /heal\x00thz HTTP/1.1\r\n" + H + b"\r\n", 40007),
    ("invalid method", b"G@T /healthz HTTP/1.1\r\n" + H + b"\r\n", 40007),
    ("unknown HTTP version", b"GET /healthz HTTP/9.9\r\n" + H + b"\r\n", None),
    ("no HTTP version", b"GET /healthz\r\n" + H + b"\r\n", None),
    ("space before the colon", b"GET /healthz HTTP/1.1\r\n" + H + b"X-A : b\r\n\r\n", 40007),
    ("separator in a header name", b"GET /healthz HTTP/1.1\r\n" + H + b"X(A): b\r\n\r\n", 40007),
    ("bare CR in a header", b"GET /healthz HTTP/1.1\r\n" + H + b"X-A: a\rb\r\n\r\n", 40007),
    ("obsolete line folding", b"GET /healthz HTTP/1.1\r\n" + H + b"X-A: a\r\n b\r\n\r\n", None),
    (
        "headers over 256 KiB",
        b"GET /healthz HTTP/1.1\r\n" + H + b"X-A: " + b"a" * 300_000 + b"\r\n\r\n",
        43101,
    ),
    (
        "Content-Length and Transfer-Encoding",
        b"POST /api/webhooks HTTP/1.1\r\n"
        + H
        + b"Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        None,
    ),
    (
        "two different Content-Lengths",
        b"POST /api/webhooks HTTP/1.1\r\n"
        + H
        + b"Content-Length: 4\r\nContent-Length: 5\r\n\r\n{}{}",
        40007,
    ),
    (
        "negative Content-Length",
        b"POST /api/webhooks HTTP/1.1\r\n" + H + b"Content-Length: -1\r\n\r\n",
        40007,
    ),
    (
        "non-numeric Content-Length",
        b"POST /api/webhooks HTTP/1.1\r\n" + H + b"Content-Length: 1e3\r\n\r\n",
        40007,
    ),
    (
        "unknown Transfer-Encoding",
        b"POST /api/webhooks HTTP/1.1\r\n" + H + b"Transfer-Encoding: xchunked\r\n\r\n",
        None,
    ),
    (
        "bad chunk size",
        b"POST /api/webhooks HTTP/1.1\r\n"
        + H
        + b"Transfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n",
        None,
    ),
]


@pytest.mark.parametrize("http", STACKS)
async def test_parser_refusals_are_envelopes(tmp_path: Path, http: str) -> None:
    async with served(offline(tmp_path), http) as (port, _app):
        for name, raw, code in PROBES:
            response = await exchange(port, raw)
            status, body = envelope(response)
            assert status < 500, (name, body)
            if code is not None:
                assert body["code"] == code, (name, body)
        # the longest target accepted still reaches the application
        path = b"/douyin/liveroom/chat?room_id="
        fill = b"a" * (MAX_URL_BYTES - len(path))
        _, body = envelope(
            await exchange(port, b"GET " + path + fill + b" HTTP/1.1\r\n" + H + b"\r\n")
        )
        assert body["code"] == errors.MISSING_TOKEN.code
        _, body = envelope(
            await exchange(port, b"GET " + path + fill + b"a HTTP/1.1\r\n" + H + b"\r\n")
        )
        assert body["code"] == errors.URL_TOO_LONG.code


@pytest.mark.parametrize("http", STACKS)
async def test_connections_that_never_finish_their_headers_are_closed(
    tmp_path: Path, http: str
) -> None:
    edge = EdgeLimits(header_timeout=1.0)
    async with served(offline(tmp_path), http, edge) as (port, _app):
        conns = [await asyncio.open_connection("127.0.0.1", port) for _ in range(100)]
        for i, (_reader, writer) in enumerate(conns):
            writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n" if i % 2 else b"GE")
        answers = await asyncio.gather(
            *(asyncio.wait_for(read_all(reader), 30) for reader, _ in conns)
        )
        for _, writer in conns:
            writer.close()
        for answer in answers:
            _, body = envelope(answer)
            assert body["code"] == errors.REQUEST_TIMEOUT.code
        # a keep-alive connection: the second request's headers are timed too
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /healthz HTTP/1.1\r\n" + H + b"\r\nGET /hea")
        answer = await asyncio.wait_for(read_all(reader), 30)
        writer.close()
        assert answer.startswith(b"HTTP/1.1 200") and b'"code":40801' in answer


@pytest.mark.parametrize("http", STACKS)
async def test_a_body_that_never_arrives_times_out_quietly(
    tmp_path: Path, http: str, caplog: pytest.LogCaptureFixture
) -> None:
    edge = EdgeLimits(body_timeout=0.5)
    caplog.set_level(logging.INFO)
    async with served(offline(tmp_path), http, edge) as (port, app):
        from dylive.serve import tokens

        token = await tokens.create(app.state.svc.store, "t")
        head = f"POST /api/webhooks?token={token} HTTP/1.1\r\n".encode() + H
        answer = await exchange(port, head + b'Content-Length: 100\r\n\r\n{"url"')
        _, body = envelope(answer)
        assert body["code"] == errors.REQUEST_TIMEOUT.code
        await until(lambda: "before its body" in caplog.text, what="the disconnect log line")
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text
    assert "Traceback" not in caplog.text


@pytest.mark.parametrize("http", STACKS)
async def test_a_client_leaving_mid_body_is_one_info_line(
    tmp_path: Path, http: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    async with served(offline(tmp_path), http) as (port, app):
        from dylive.serve import tokens

        token = await tokens.create(app.state.svc.store, "t")
        _reader, writer = await asyncio.open_connection("127.0.0.1", port)
        head = f"POST /api/webhooks?token={token} HTTP/1.1\r\n".encode() + H
        writer.write(head + b'Content-Length: 1000\r\n\r\n{"url": "http://exa')
        await writer.drain()
        tasks = app.state.server.server_state.tasks
        await until(lambda: len(tasks) == 1, what="the request in the application")
        writer.close()
        await until(lambda: "before its body" in caplog.text, what="the disconnect log line")
    lines = [r for r in caplog.records if "before its body" in r.getMessage()]
    assert len(lines) == 1 and lines[0].levelno == logging.INFO
    assert lines[0].exc_info is None and "\n" not in lines[0].getMessage()
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text


@pytest.mark.parametrize("http", STACKS)
async def test_connections_over_the_cap_get_503(tmp_path: Path, http: str) -> None:
    edge = EdgeLimits(max_connections=5)
    async with served(offline(tmp_path), http, edge) as (port, _app):
        held = [await asyncio.open_connection("127.0.0.1", port) for _ in range(5)]
        _, body = envelope(await exchange(port, b"GET /healthz HTTP/1.1\r\n" + H + b"\r\n"))
        assert body["code"] == errors.TOO_MANY_CONNECTIONS.code
        for _, writer in held:
            writer.close()

        # freed slots are usable again
        async def healthy() -> bool:
            answer = await exchange(
                port, b"GET /healthz HTTP/1.1\r\n" + H + b"Connection: close\r\n\r\n"
            )
            return answer.startswith(b"HTTP/1.1 200")

        await until(healthy, what="a free connection slot")


@pytest.mark.parametrize("http", STACKS)
async def test_a_trailing_slash_is_a_404_envelope(tmp_path: Path, http: str) -> None:
    async with served(offline(tmp_path), http) as (port, _app):
        for target in (b"/api/rooms/80017709309/?token=abc", b"/douyin/liveroom/chat/?room_id=1"):
            answer = await exchange(port, b"GET " + target + b" HTTP/1.1\r\n" + H + b"\r\n")
            status, body = envelope(answer)
            assert status == 404 and body["code"] == errors.NOT_FOUND.code
            assert target.split(b"?")[0].rstrip(b"/").decode() in body["data"]["detail"]
        # the root still answers as before (its redirect to the dashboard)
        answer = await exchange(port, b"GET / HTTP/1.1\r\n" + H + b"Connection: close\r\n\r\n")
        assert answer.startswith(b"HTTP/1.1 307") and b"location: /dashboard" in answer


with contextlib.suppress(ImportError):
    import httptools  # noqa: F401
if "httptools" not in sys.modules:  # pragma: no cover
    pytest.skip("httptools is not installed", allow_module_level=True)

"""The edge's whole-response write keeps the lines of headers it checked once
(:class:`dylive.serve.edgeio.Responder`): a response written from kept lines is the same bytes as
the first, a refused header is refused every time, and headers given as lists still go out."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from uvicorn.protocols.http import httptools_impl

from dylive.serve.edgeio import Responder


class Sink:
    def __init__(self) -> None:
        self.out = b""

    def write(self, data: bytes) -> None:
        self.out += data

    def close(self) -> None: ...


def cycle(keep_alive: bool = True) -> Any:
    return SimpleNamespace(
        response_started=False,
        response_complete=False,
        disconnected=False,
        flow=SimpleNamespace(write_paused=False),
        access_log=False,
        scope={"method": "GET"},
        keep_alive=keep_alive,
        transport=Sink(),
        message_event=SimpleNamespace(set=lambda: None),
        on_response=lambda: None,
        default_headers=[(b"date", b"Mon, 07 Dec 2026 21:00:00 GMT"), (b"server", b"uvicorn")],
        waiting_for_100_continue=False,
    )


BODY = b'{"code":200}'
HEADERS = [(b"content-length", b"12"), (b"Content-Type", b"application/json")]
EXPECTED = (
    b"HTTP/1.1 200 OK\r\ndate: Mon, 07 Dec 2026 21:00:00 GMT\r\nserver: uvicorn\r\n"
    b"content-length: 12\r\ncontent-type: application/json\r\n\r\n" + BODY
)


def test_kept_lines_write_the_same_bytes() -> None:
    responder = Responder(httptools_impl)
    for _ in range(3):
        c = cycle()
        assert responder.respond(c, 200, HEADERS, BODY)
        assert c.transport.out == EXPECTED
        assert c.response_complete


def test_connection_close_still_seen_and_added() -> None:
    responder = Responder(httptools_impl)
    for _ in range(2):
        c = cycle(keep_alive=False)
        assert responder.respond(c, 200, HEADERS, BODY)
        assert c.transport.out.endswith(b"connection: close\r\n\r\n" + BODY)
        c = cycle()
        assert responder.respond(c, 200, [*HEADERS, (b"connection", b"close")], BODY)
        assert c.transport.out.endswith(b"connection: close\r\n\r\n" + BODY)
        assert c.keep_alive is False


def test_a_refused_header_is_refused_every_time() -> None:
    responder = Responder(httptools_impl)
    for _ in range(2):
        c = cycle()
        assert not responder.respond(c, 200, [*HEADERS, (b"x-bad", b"a\nb")], BODY)
        assert c.transport.out == b"" and not c.response_started
        assert not responder.respond(c, 200, [(b"content-length", b"13"), HEADERS[1]], BODY)


def test_headers_given_as_lists_go_out() -> None:
    responder = Responder(httptools_impl)
    listed: Any = [[b"content-length", b"12"], [b"Content-Type", b"application/json"]]
    for _ in range(2):
        c = cycle()
        assert responder.respond(c, 200, listed, BODY)
        assert c.transport.out == EXPECTED

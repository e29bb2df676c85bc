"""A response goes out in one write (``dylive.serve.edge.OneWrite``): the head uvicorn writes
when the application starts the response is held and written with the body; a head whose body
does not follow in the same step (``HEAD``, a stream) still goes out at the end of the step, in
order; an interim ``100 Continue`` is not held; closing writes what is held first."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from support.alive import alive, collector_off
from support.edgekit import STACKS, envelope, exchange, offline, served

from dylive.serve.edge import OneWrite

HEAD = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n"


class Transport:
    """Records what is written, one entry per call."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, bytes]] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        self.calls.append(("write", data))

    def writelines(self, chunks: Any) -> None:
        self.calls.append(("writelines", b"".join(chunks)))

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def get_extra_info(self, name: str) -> str:
        return f"info {name}"


async def settled() -> None:
    """The steps scheduled so far have run (call_soon callbacks are FIFO)."""
    done = asyncio.get_running_loop().create_future()
    asyncio.get_running_loop().call_soon(done.set_result, None)
    await done


async def test_head_and_body_are_one_write() -> None:
    raw = Transport()
    out = OneWrite(raw, asyncio.get_running_loop())  # type: ignore[arg-type]
    out.write(HEAD)
    assert raw.calls == []
    out.write(b"{}")
    assert raw.calls == [("writelines", HEAD + b"{}")]
    await settled()
    assert raw.calls == [("writelines", HEAD + b"{}")]  # nothing left to flush


async def test_a_head_alone_is_written_at_the_end_of_the_step_in_order() -> None:
    raw = Transport()
    out = OneWrite(raw, asyncio.get_running_loop())  # type: ignore[arg-type]
    out.write(HEAD)
    await settled()
    assert raw.calls == [("write", HEAD)]
    out.write(b"chunk")  # a stream's later chunks go out as they come
    assert raw.calls == [("write", HEAD), ("write", b"chunk")]


async def test_continue_is_not_held_and_close_flushes() -> None:
    raw = Transport()
    out = OneWrite(raw, asyncio.get_running_loop())  # type: ignore[arg-type]
    out.write(b"HTTP/1.1 100 Continue\r\n\r\n")
    assert raw.calls == [("write", b"HTTP/1.1 100 Continue\r\n\r\n")]
    out.write(HEAD)
    out.close()
    assert raw.calls[-1] == ("write", HEAD) and raw.closed
    assert out.get_extra_info("peername") == "info peername"  # the rest is the transport's


@pytest.mark.parametrize("http", STACKS)
async def test_keep_alive_answers_whole_on_both_stacks(tmp_path: Path, http: str) -> None:
    """GET, HEAD and GET again on one connection: each answer complete, in order."""
    request = b"%s /douyin/liveroom/chat?room_id=1 HTTP/1.1\r\nHost: x\r\n\r\n"
    async with served(offline(tmp_path), http) as (port, _app):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            for method in (b"GET", b"HEAD", b"GET"):
                writer.write(request % method)
                head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30)
                length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
                body = b"" if method == b"HEAD" else await reader.readexactly(length)
                assert head.startswith(b"HTTP/1.1 401"), head
                if body:
                    assert b'"code":40001' in body
        finally:
            writer.close()
        # a request that closes the connection still gets its whole answer first
        closing = request.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n")
        _, body = envelope(await exchange(port, closing % b"GET"))
        assert body["code"] == 40001


@pytest.mark.parametrize("http", STACKS)
async def test_pipelined_direct_requests_are_answered_whole_and_in_order(
    tmp_path: Path, http: str
) -> None:
    """Three chat GETs in one packet (the direct route, answered through ``dylive.respond`` on
    httptools): three complete answers in order, the connection kept, then closed on request."""
    get = b"GET /douyin/liveroom/chat?room_id=1&token=%d HTTP/1.1\r\nHost: x\r\n\r\n"
    async with served(offline(tmp_path), http) as (port, _app):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            writer.write(get % 1 + get % 2 + get % 3)
            for _ in range(3):
                head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30)
                length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
                _, body = envelope(head + await reader.readexactly(length))
                assert head.startswith(b"HTTP/1.1 401") and body["code"] == 40002, head
                assert b"connection: close" not in head.lower()
                assert b"\r\ndate: " in head.lower()  # uvicorn's default headers, as via send
            writer.write((get % 4).replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n"))
            rest = await asyncio.wait_for(reader.read(), 30)  # the answer, then EOF
            assert rest.startswith(b"HTTP/1.1 401") and b"connection: close" in rest.lower()
        finally:
            writer.close()


async def test_direct_answers_carry_their_headers_over_the_edge(tmp_path: Path) -> None:
    """Over httptools (the direct route answered through ``dylive.respond``): a quota token's
    ``X-RateLimit-*`` headers, then its 429 envelope with ``Retry-After``, as the ASGI way
    writes them."""
    from dylive.serve import tokens
    from dylive.store import Quota, open_store

    config = offline(tmp_path)
    async with open_store(config.db) as store:
        token = await tokens.create(store, "plan", rate=1.0, quota=Quota(requests_per_day=5))
    get = f"GET /douyin/liveroom/chat?room_id=1&token={token} HTTP/1.1\r\nHost: x\r\n\r\n"
    async with served(config, "httptools") as (port, _app):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            heads = []
            for _ in range(2):  # the second within a second: over the rate of 1/s
                writer.write(get.encode())
                head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30)
                length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
                _, body = envelope(head + await reader.readexactly(length))
                heads.append((head.lower(), body["code"]))
        finally:
            writer.close()
    (first, _), (second, code) = heads
    assert b"x-ratelimit-limit: 5\r\n" in first and b"x-ratelimit-remaining: " in first
    assert code == 42901 and second.startswith(b"http/1.1 429")
    assert b"retry-after: 1\r\n" in second and b"x-ratelimit-limit: 5\r\n" in second


async def test_a_direct_request_is_freed_without_the_garbage_collector(tmp_path: Path) -> None:
    """The edge hands the app ``dylive.respond`` in the scope (bound to the request's response
    cycle, which holds the scope): the app takes it out, so that a request's cycle, scope and
    response are freed by reference counting when it is done, not left as a reference cycle
    for the garbage collector to find (it was two thirds of what its collections freed)."""
    from uvicorn.protocols.http.httptools_impl import RequestResponseCycle

    get = b"GET /douyin/liveroom/chat?room_id=1&token=%d HTTP/1.1\r\nHost: x\r\n\r\n"
    async with served(offline(tmp_path), "httptools") as (port, _app):
        with collector_off():
            before = alive(RequestResponseCycle)
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            try:
                for i in range(20):
                    writer.write(get % i)
                    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30)
                    length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
                    _, body = envelope(head + await reader.readexactly(length))
                    assert body["code"] == 40002
                left = alive(RequestResponseCycle) - before
            finally:
                writer.close()
    assert left <= 2, f"{left} response cycles of 20 requests still alive"  # the last one's

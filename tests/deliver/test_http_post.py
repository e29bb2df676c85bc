"""The webhook POST client against a real local HTTP/1.1 server: connections kept alive and
reused, an idle connection the server closed is replaced, answers read up to the limit (a
connection whose answer was not read to its end is not reused), chunked answers, timeouts."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import pytest
from support.waiting import until

from dylive.deliver.http_post import Poster, ReadTimeout

Answer = Callable[[int], bytes]  # request number -> raw answer (b"" = close without answering)


@asynccontextmanager
async def server(answer: Answer, *, close_after: bool = False) -> AsyncIterator[list[int]]:
    """A server answering each request with ``answer(n)``; yields [port, connections, requests]."""
    stats = [0, 0, 0]
    handlers: set[asyncio.Task[None]] = set()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        handlers.add(task)
        stats[1] += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(
                    int(line.split(b":")[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                )
                await reader.readexactly(length)
                stats[2] += 1
                reply = answer(stats[2])
                if not reply:
                    return
                writer.write(reply)
                await writer.drain()
                if close_after:
                    return
        except (asyncio.IncompleteReadError, ConnectionError):
            return
        finally:
            writer.close()
            handlers.discard(task)

    srv = await asyncio.start_server(handle, "127.0.0.1", 0)
    stats[0] = srv.sockets[0].getsockname()[1]
    try:
        yield stats
    finally:
        srv.close()
        for task in list(handlers):
            task.cancel()
        await asyncio.gather(*handlers, return_exceptions=True)


OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


async def post(poster: Poster, port: int, limit: int = 4096) -> tuple[int, bytes]:
    origin = ("http", "127.0.0.1", port, "127.0.0.1")
    return await poster.post(origin, "/hook?a=1", {"Host": "x"}, b'{"n":1}', limit)


async def test_connections_are_kept_alive_and_reused() -> None:
    async with server(lambda _: OK) as stats, Poster(5) as poster:
        for _ in range(5):
            assert await post(poster, stats[0]) == (200, b"ok")
    assert stats[1:] == [1, 5]


async def test_an_idle_connection_the_server_closed_is_replaced() -> None:
    async with server(lambda _: OK, close_after=True) as stats, Poster(5) as poster:
        for _ in range(3):
            assert await post(poster, stats[0]) == (200, b"ok")
    assert stats[1:] == [3, 3]


async def test_answers_are_read_up_to_the_limit_and_chunked_ones_to_their_end() -> None:
    chunked = (
        b"HTTP/1.1 503 X\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"
    )
    long = b"HTTP/1.1 500 X\r\nContent-Length: 10000\r\n\r\n" + b"y" * 10000
    answers = {1: chunked, 2: OK, 3: long, 4: OK}
    async with server(answers.__getitem__) as stats, Poster(5) as poster:
        assert await post(poster, stats[0]) == (503, b"abcde")
        assert await post(poster, stats[0]) == (200, b"ok")  # the same connection
        assert await post(poster, stats[0], limit=100) == (500, b"y" * 100)
        assert await post(poster, stats[0]) == (200, b"ok")  # a new one: the last was not read
    assert stats[1:] == [2, 4]


async def test_a_silent_server_times_out() -> None:
    closed = asyncio.Event()

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # never answers; returns when the client gives up
        writer.close()
        closed.set()

    srv = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = srv.sockets[0].getsockname()[1]
    try:
        async with Poster(0.3) as poster:
            with pytest.raises(ReadTimeout):
                await post(poster, port)
        await until(closed.is_set, 30, what="the client closed its connection on the timeout")
    finally:
        srv.close()


async def test_at_most_limit_requests_per_origin_at_once() -> None:
    async with server(lambda _: OK) as stats, Poster(5, limit=2) as poster:
        got = await asyncio.gather(*(post(poster, stats[0]) for _ in range(10)))
    assert got == [(200, b"ok")] * 10
    assert stats[1:] == [2, 10]  # two connections, each kept and reused

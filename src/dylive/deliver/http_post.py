"""A lean HTTP/1.1 POST client for webhook deliveries: keep-alive connections on asyncio streams.

Why not httpx here: a webhook batch is one small POST, and httpx's layers (the client's auth,
redirect and cookie handling, httpcore's pool and anyio's synchronization, which looks for an
optional module on every request) cost about a millisecond of CPU per request — more than the
rest of a delivery together. This client does only what a delivery needs:

- :meth:`Poster.post` sends one request to an already checked address (the SSRF guard resolved
  the host, see :mod:`~dylive.deliver.targets`), with the TLS server name set to the original
  host and certificates verified against the process's CA bundle (certifi's, as httpx's).
- Connections are kept alive per (scheme, address, port, server name) and reused; a reused
  connection that fails before any byte of the answer (the server closed an idle connection)
  is retried once on a new one. At most ``limit`` requests per origin are in flight at once
  (every room of every webhook sends on its own; as httpx's default pool, 100), the others wait
  for one to finish (:class:`PoolTimeout` after the timeout); every connection is kept.
- The connect, the write and the whole answer are each bounded by the timeout
  (:class:`ConnectTimeout`, :class:`WriteTimeout`, :class:`ReadTimeout`).
- The answer's body is read up to ``max_response`` bytes; a connection whose answer was not read
  to its end (longer, or delimited by the connection's close) is closed, not reused.
- Redirects are never followed (the status is returned as it is).
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Awaitable
from typing import TypeVar

from dylive.source.tls import tls_context

T = TypeVar("T")

#: the largest status line + headers of an answer
MAX_HEAD = 64 * 1024


class PostError(Exception):
    """A request that got no usable answer (the name of the subclass says which step failed)."""


class ConnectError(PostError):
    pass


class ConnectTimeout(PostError):
    pass


class WriteTimeout(PostError):
    pass


class ReadTimeout(PostError):
    pass


class RemoteProtocolError(PostError):
    pass


class PoolTimeout(PostError):
    pass


Origin = tuple[str, str, int, str]  # scheme, address, port, TLS server name


class _Conn:
    __slots__ = ("reader", "writer")

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    def usable(self) -> bool:
        return not self.writer.is_closing() and not self.reader.at_eof()

    def close(self) -> None:
        self.writer.close()


class Poster:
    """HTTP/1.1 POSTs with kept-alive connections (see the module doc)."""

    def __init__(self, timeout: float = 10.0, *, connect: float | None = None, limit: int = 100):
        self.timeout = timeout
        self.connect_timeout = min(5.0, timeout) if connect is None else connect
        self.limit = limit
        self._idle: dict[Origin, list[_Conn]] = {}
        self._slots: dict[Origin, asyncio.Semaphore] = {}
        self._tls: ssl.SSLContext | None = None

    async def __aenter__(self) -> Poster:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        idle, self._idle = self._idle, {}
        for conns in idle.values():
            for conn in conns:
                conn.close()

    async def post(
        self,
        origin: Origin,
        target: str,
        headers: dict[str, str],
        body: bytes,
        max_response: int,
    ) -> tuple[int, bytes]:
        """``(status, at most max_response bytes of the answer's body)``; PostError when there is
        no answer. ``target`` is the request target (path and query); ``headers`` include Host."""
        lines = [f"POST {target} HTTP/1.1"]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        lines.append(f"Content-Length: {len(body)}")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        slots = self._slots.get(origin)
        if slots is None:
            slots = self._slots[origin] = asyncio.Semaphore(self.limit)
        if slots.locked():
            try:
                async with asyncio.timeout(self.timeout):
                    await slots.acquire()
            except TimeoutError:
                raise PoolTimeout(f"{self.limit} requests to {origin[1]} in flight") from None
        else:
            await slots.acquire()  # returns at once
        try:
            return await self._send(origin, head + body, max_response)
        finally:
            slots.release()

    async def _send(self, origin: Origin, request: bytes, max_response: int) -> tuple[int, bytes]:
        while True:
            conn, reused = self._take(origin), True
            if conn is None:
                conn, reused = await self._open(origin), False
            try:
                status, data, reusable = await self._exchange(conn, request, max_response)
            except _Stale:
                conn.close()
                if reused:
                    continue  # an idle connection the server had closed: once more on a new one
                raise RemoteProtocolError("the server closed the connection") from None
            except BaseException:
                conn.close()
                raise
            if reusable:
                self._put(origin, conn)
            else:
                conn.close()
            return status, data

    def _take(self, origin: Origin) -> _Conn | None:
        conns = self._idle.get(origin)
        while conns:
            conn = conns.pop()
            if conn.usable():
                return conn
            conn.close()
        return None

    def _put(self, origin: Origin, conn: _Conn) -> None:
        self._idle.setdefault(origin, []).append(conn)  # at most ``limit``: one per slot

    async def _open(self, origin: Origin) -> _Conn:
        scheme, address, port, server_name = origin
        tls: ssl.SSLContext | None = None
        if scheme == "https":
            if self._tls is None:
                self._tls = tls_context()
            tls = self._tls
        try:
            async with asyncio.timeout(self.connect_timeout):
                reader, writer = await asyncio.open_connection(
                    address,
                    port,
                    ssl=tls,
                    server_hostname=server_name if tls else None,
                    limit=MAX_HEAD,
                )
        except TimeoutError:
            raise ConnectTimeout(f"no connection to {address}:{port}") from None
        except (OSError, ssl.SSLError) as exc:
            raise ConnectError(str(exc) or type(exc).__name__) from None
        return _Conn(reader, writer)

    async def _exchange(self, conn: _Conn, request: bytes, limit: int) -> tuple[int, bytes, bool]:
        try:
            conn.writer.write(request)
            if conn.writer.transport.get_write_buffer_size() > 0:  # else drain returns at once
                await self._timed(conn.writer.drain(), WriteTimeout)
        except (ConnectionError, OSError):
            raise _Stale from None
        return await self._timed(self._answer(conn.reader, limit), ReadTimeout)

    async def _answer(self, reader: asyncio.StreamReader, limit: int) -> tuple[int, bytes, bool]:
        """The answer's status, up to ``limit`` bytes of its body, and whether it was read to
        its end on a connection that stays open (one timeout bounds it all)."""
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError as exc:
            if not exc.partial:
                raise _Stale from None
            raise RemoteProtocolError("the answer ended in its headers") from None
        except asyncio.LimitOverrunError:
            raise RemoteProtocolError("the answer's headers are too long") from None
        except (ConnectionError, OSError):
            raise _Stale from None
        status, length, chunked, close = _parse_head(head)
        if status < 200 or status in (204, 304):  # no body (1xx is not expected: no Expect sent)
            return status, b"", not close and status >= 200
        try:
            if chunked:
                data, complete = await _chunked(reader, limit)
            elif length is not None:
                data = await reader.readexactly(min(length, limit))
                complete = length <= limit
            else:  # delimited by the close of the connection
                data = await reader.read(limit)
                complete = False
        except asyncio.IncompleteReadError as exc:
            return status, exc.partial[:limit], False
        except (ConnectionError, OSError):
            return status, b"", False
        return status, data[:limit], complete and not close

    async def _timed(self, step: Awaitable[T], error: type[PostError]) -> T:
        try:
            async with asyncio.timeout(self.timeout):
                return await step
        except TimeoutError:
            raise error(f"no answer in {self.timeout:g} s") from None


async def _chunked(reader: asyncio.StreamReader, limit: int) -> tuple[bytes, bool]:
    """Up to ``limit`` bytes of a chunked body; True when read to its end (trailers too)."""
    data = b""
    while True:
        line = await reader.readuntil(b"\r\n")
        try:
            size = int(line.split(b";", 1)[0].strip(), 16)
        except ValueError:
            raise RemoteProtocolError("a bad chunk size") from None
        if size == 0:
            while (await reader.readuntil(b"\r\n")) != b"\r\n":
                pass  # trailers
            return data, True
        if len(data) + size > limit:
            return data + await reader.readexactly(limit - len(data)), False
        data += (await reader.readexactly(size + 2))[:-2]


class _Stale(Exception):
    """The connection failed before any byte of the answer."""


def _parse_head(head: bytes) -> tuple[int, int | None, bool, bool]:
    """``(status, Content-Length, chunked, close)`` of an answer's status line and headers."""
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
        raise RemoteProtocolError(f"not an HTTP/1.x answer: {lines[0][:80]!r}")
    status = int(parts[1])
    close = parts[0] == "HTTP/1.0"
    length: int | None = None
    chunked = False
    for line in lines[1:]:
        name, _, value = line.partition(":")
        key = name.strip().lower()
        value = value.strip()
        if key == "content-length":
            if not value.isdigit():
                raise RemoteProtocolError("a bad Content-Length")
            length = int(value)
        elif key == "transfer-encoding":
            chunked = value.lower().endswith("chunked")
        elif key == "connection":
            tokens = {t.strip().lower() for t in value.split(",")}
            close = "close" in tokens or (close and "keep-alive" not in tokens)
    return status, length, chunked, close

"""The chat pages' statements on libpq directly: a few connections of their own, each with its
socket registered with the event loop once, its statements prepared once (generic plans).

Why not psycopg's ``execute``: for every wait on the socket, psycopg's ``wait_async`` adds the
socket to the loop and removes it again (under uvloop a new poll handle each time: ``ioctl``,
two to three ``epoll_ctl``, half of them failing), and a page statement's answer (~25 KB a page)
arrives in several reads; its cursor, adapters and parameter dumpers cost more than the few
integers and byte strings a page's row holds. Here a statement is sent with its parameters as
text (typed array literals), the answer is read in binary, and each row is five values: four
``bigint`` (8 bytes, big-endian) and the body (``bytea``: the bytes themselves); no other
column type is decoded.

A connection whose statement failed on the wire, or that was interrupted while a statement ran
(cancelled), is closed; a statement is tried once more on a fresh connection when the one it
ran on turned out dead (the server restarted), as every other read is.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, NamedTuple

import psycopg
from psycopg import errors, pq

from dylive.errors import StoreError

from .pool import Conn

Row = tuple[Any, ...]

#: type OIDs: of parameters (``bigint[]``, ``int[]``, ``text[]``: sent as array literals) and
#: of the result columns decoded (``bigint``)
BIGINTS, INTS, TEXTS, BIGINT = 1016, 1007, 1009, 20


class Statement(NamedTuple):
    """A statement prepared under ``name`` on each connection, its parameters of ``types``."""

    name: bytes
    sql: str
    types: tuple[int, ...]


class PageConn:
    """One connection: ``await conn.run(statement, params)`` (prepared on first use) answers
    the rows: ``bigint`` values as int, any other as its binary bytes (NULL: None)."""

    def __init__(self, conn: Conn) -> None:
        self.conn = conn
        self.pgconn = conn.pgconn
        self.broken = False
        self._prepared: set[bytes] = set()
        self._waiter: asyncio.Future[None] | None = None
        self._loop = asyncio.get_running_loop()
        self._fd = self.pgconn.socket
        self._loop.add_reader(self._fd, self._readable)

    def _readable(self) -> None:
        waiter = self._waiter
        if waiter is not None:
            if not waiter.done():
                waiter.set_result(None)
            return
        try:  # nobody waits (a notice, or the server closed): take it in, or stop watching
            self.pgconn.consume_input()
        except psycopg.OperationalError:
            self._fail()

    def _fail(self) -> None:
        self.broken = True
        self._loop.remove_reader(self._fd)

    async def run(self, statement: Statement, params: Sequence[str]) -> list[Row]:
        if self.broken:
            raise psycopg.OperationalError("the connection is closed")
        name = statement.name
        try:
            if name not in self._prepared:
                sql = statement.sql.encode()
                self.pgconn.send_prepare(name, sql, param_types=statement.types)
                await self._results()
                self._prepared.add(name)
            values = [p.encode() for p in params]
            self.pgconn.send_query_prepared(name, values, result_format=pq.Format.BINARY)
            return await self._results()
        except psycopg.OperationalError:
            self._fail()
            raise
        except BaseException as exc:  # interrupted mid-statement: its answer would be next
            if not isinstance(exc, psycopg.Error):
                self._fail()
            raise

    async def _results(self) -> list[Row]:
        pgconn = self.pgconn
        while pgconn.flush():  # the statement did not fit the socket's buffer: rare
            await self._wait_writable()
        rows: list[Row] = []
        error: psycopg.Error | None = None
        while True:
            pgconn.consume_input()
            while not pgconn.is_busy():
                result = pgconn.get_result()
                if result is None:  # the statement's last result
                    if error is not None:
                        raise error
                    return rows
                if result.status == pq.ExecStatus.TUPLES_OK:
                    ints = [result.ftype(c) == BIGINT for c in range(result.nfields)]
                    get = result.get_value
                    for r in range(result.ntuples):
                        rows.append(tuple(_value(get(r, c), i) for c, i in enumerate(ints)))
                elif result.status != pq.ExecStatus.COMMAND_OK:
                    error = errors.error_from_result(result)
            self._waiter = self._loop.create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None

    async def _wait_writable(self) -> None:
        ready: asyncio.Future[None] = self._loop.create_future()

        def writable() -> None:
            if not ready.done():
                ready.set_result(None)

        self._loop.add_writer(self._fd, writable)
        try:
            await ready
        finally:
            self._loop.remove_writer(self._fd)

    async def close(self) -> None:
        if not self.broken:
            self._fail()
        await self.conn.close()


def _value(data: bytes | None, bigint: bool) -> Any:
    if data is None or not bigint:
        return data
    return int.from_bytes(data, "big", signed=True)


class PageWire:
    """Up to ``size`` :class:`PageConn`, opened by ``connect`` when needed, reused while
    healthy. ``await wire.run(statement, params)``: :meth:`PageConn.run` on an idle one."""

    def __init__(self, connect: Callable[[], Awaitable[Conn]], size: int) -> None:
        self._connect = connect
        self._idle: list[PageConn] = []
        self._slots = asyncio.Semaphore(size)

    async def run(self, statement: Statement, params: Sequence[str]) -> list[Row]:
        for attempt in (1, 2):
            async with self._slots:
                conn = self._idle.pop() if self._idle else PageConn(await self._connect())
                try:
                    rows = await conn.run(statement, params)
                except psycopg.OperationalError as exc:
                    await conn.close()
                    if attempt == 2:
                        raise StoreError(f"read failed: {exc}", transient=True) from exc
                    stale, self._idle = self._idle, []  # most likely dead too
                    for other in stale:
                        await other.close()
                    continue
                except psycopg.Error as exc:
                    self._idle.append(conn)  # the server answered: the connection is fine
                    raise StoreError(f"read failed: {exc}") from exc
                except BaseException:
                    await conn.close()
                    raise
                self._idle.append(conn)
                return rows
        raise AssertionError("unreachable")

    async def close(self) -> None:
        idle, self._idle = self._idle, []
        for conn in idle:
            await conn.close()

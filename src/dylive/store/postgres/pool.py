"""The PostgreSQL store's reader pool."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import psycopg

Conn = psycopg.AsyncConnection[Any]


class Pool:
    """A few autocommit connections, opened on demand, replaced when broken."""

    def __init__(self, connect: Callable[[], Awaitable[Conn]], size: int) -> None:
        self._connect = connect
        self._idle: list[Conn] = []
        self._slots = asyncio.Semaphore(size)

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[Conn]:
        async with self._slots:
            conn = self._idle.pop() if self._idle else await self._connect()
            keep = False
            try:
                yield conn
                keep = True
            except psycopg.Error:
                keep = not conn.broken
                if conn.broken:  # the server went away: the idle ones are most likely dead too
                    stale, self._idle = self._idle, []
                    for other in stale:
                        await other.close()
                raise
            finally:
                if keep and not conn.closed:
                    self._idle.append(conn)
                else:  # broken, or interrupted mid-query (cancelled): never reuse
                    await conn.close()

    async def close(self) -> None:
        idle, self._idle = self._idle, []
        for conn in idle:
            await conn.close()

"""The Parquet export's bulk read on PostgreSQL through ADBC's PostgreSQL driver (optional:
``pip install 'dylive[parquet-postgres]'``).

The driver runs each page as ``COPY (SELECT …) TO STDOUT (FORMAT binary)`` and decodes the rows
into Arrow arrays in C++: the server sends the columns as stored (no aggregate built, no JSON
made, half the server CPU of :meth:`~dylive.store.interfaces.EventLog.scan_columns`) and the
client makes no Python object per message. The statement is sent with its three integers
written in (bound parameters take the driver's slower prepared-statement path, measured),
planned with the sort off (``engine.UNSORTED``: the index's order whatever the statistics).

The connection is the driver's own (libpq, same URL), opened for one export and closed after
it; its calls block, so they run in a worker thread, one at a time (a lock: ``close`` waits for
a read still in flight, whose caller may have been cancelled).
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from dylive.errors import StoreError

from ..dburl import redact
from ..interfaces import ArrowPages
from ..migrations import to_signed
from .engine import UNSORTED

try:  # optional: pip install 'dylive[parquet-postgres]'
    import adbc_driver_postgresql.dbapi as adbc
except ImportError:  # pragma: no cover - exercised only without the extra
    adbc = None

_PAGE = (
    "SELECT seq, msg_id, method, created_at, rendered FROM events"
    " WHERE room_id = {room_id:d} AND seq > {after:d} ORDER BY seq LIMIT {limit:d}"
)


def available() -> bool:
    """Whether ADBC's PostgreSQL driver is installed."""
    return adbc is not None


class AdbcPages(ArrowPages):
    """:class:`~dylive.store.interfaces.ArrowPages` on PostgreSQL (``url``: the store's)."""

    def __init__(self, url: str) -> None:
        self._url = url
        self._conn: Any = None
        self._lock = threading.Lock()

    async def open(self) -> None:
        await asyncio.to_thread(self._open)

    def _open(self) -> None:
        with self._lock:
            try:
                self._conn = adbc.connect(self._url, autocommit=True)
                with self._conn.cursor() as cur:
                    cur.execute(f"SET {UNSORTED}")  # this connection's only reads: the pages
            except adbc.Error as exc:
                raise StoreError(
                    redact(f"cannot connect to {self._url} (ADBC): {exc}"), transient=True
                ) from exc

    async def close(self) -> None:
        await asyncio.to_thread(self._close)

    def _close(self) -> None:
        with self._lock:
            conn, self._conn = self._conn, None
            if conn is not None:
                conn.close()

    async def read(self, room_id: int, after_seq: int, limit: int) -> Any:
        sql = _PAGE.format(room_id=to_signed(room_id), after=int(after_seq), limit=int(limit))
        return await asyncio.to_thread(self._read, sql)

    def _read(self, sql: str) -> Any:
        with self._lock:
            if self._conn is None:
                raise StoreError("the bulk reader is closed")
            try:
                with self._conn.cursor() as cur:
                    cur.execute(sql)
                    return cur.fetch_arrow_table()
            except adbc.Error as exc:
                raise StoreError(redact(f"bulk read failed: {exc}"), transient=True) from exc

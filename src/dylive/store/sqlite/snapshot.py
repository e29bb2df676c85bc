"""History chat pages read in a read snapshot kept open for a short while.

SQLite drops a connection's whole page cache at its next read transaction after any commit (the
WAL changed), and each read transaction takes and releases the WAL's read locks; behind a writer
that commits many times a second, a history page would read its B-tree's interior pages again
(``bench/readcache.py``; docs/benchmarks.md, "Ninth session"). :class:`HistorySnapshot` keeps
one read transaction open on a connection of its own (the event loop thread's, like the store's
small page reads) across pages, renewed once ``age`` seconds old: no page is read from an older
one, and a timer ends it at that age even when no page comes.

Why a page read there is the page a fresh read gives: a room's rows are appended with increasing
``seq`` (one writer, ``AUTOINCREMENT``: commit order), so every row committed after the snapshot
has a seq above every row in it. A page "the first ``limit`` rows after cursor C" that the
snapshot fills (``limit`` rows: a FULL page, last seq L) is therefore the page of the latest
state too: no row between C and L can appear later. A SHORT page (the snapshot ran out of rows)
may lack rows committed since, so the caller reads it again fresh (:meth:`SQLiteEventLog
.read_joined`). Retention deletes only rows older than its cutoff: a page from a snapshot up to
``age`` seconds old may still show messages retention deleted within that time (as a read begun
just before the delete does); it never misses a row, and the cursor after it continues exactly
(``tests/store/test_sqlite_snapshot.py``).

A kept snapshot holds back WAL checkpoints (a PASSIVE one stops at its frame; the RESTART that
lets the WAL start again waits for it). So its age is bounded, and no snapshot is kept while
the checkpointer has a RESTART due
(:attr:`Checkpointer.restart_due <dylive.store.sqlite.checkpointer.Checkpointer.restart_due>`):
pages are then read fresh, as without snapshots, and the WAL restarts as before.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
from collections.abc import Callable

from dylive import settings

from .checkpointer import Checkpointer


class HistorySnapshot:
    """``HistorySnapshot(conn, age, hold_back)``: :meth:`connection` gives ``conn`` inside a
    read transaction begun at most ``age`` seconds ago, or None when no snapshot is to be kept
    (``hold_back()`` true: a WAL restart is due). Loop thread only; :meth:`close` at the end."""

    __slots__ = ("_age", "_conn", "_hold_back", "_timer", "_until", "begun", "short")

    def __init__(self, conn: sqlite3.Connection, age: float, hold_back: Callable[[], bool]) -> None:
        self._conn = conn
        self._age = age
        self._hold_back = hold_back
        self._until = 0.0  # monotonic time at which the open snapshot is renewed
        self._timer: asyncio.TimerHandle | None = None
        self.begun = 0  # snapshots begun (tests, benches)
        self.short = 0  # pages the snapshot could not fill, read again fresh

    @classmethod
    def beside(
        cls,
        checkpointer: Checkpointer | None,
        connect: Callable[[], sqlite3.Connection],
        age: float | None = None,
    ) -> HistorySnapshot | None:
        """The kept snapshot of a store (``age``: default the ``history_snapshot`` setting), or
        None when it is off: ``age`` 0, or no background checkpointer (whose RESTARTs it
        yields to; without them nothing would ever let the WAL start again)."""
        age = settings.number("history_snapshot") if age is None else age
        if age <= 0 or checkpointer is None:
            return None
        return cls(connect(), age, checkpointer.restart_due.is_set)

    def connection(self) -> sqlite3.Connection | None:
        conn = self._conn
        if conn.in_transaction:
            if time.monotonic() < self._until and not self._hold_back():
                return conn
            self.end()
        if self._hold_back():
            return None
        conn.execute("BEGIN")  # deferred: the snapshot is taken by its first read
        self._until = time.monotonic() + self._age
        self._timer = asyncio.get_running_loop().call_later(self._age, self.end)
        self.begun += 1
        return conn

    def end(self) -> None:
        """End the open snapshot (if any): the next page begins a new one."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._conn.in_transaction:
            with contextlib.suppress(sqlite3.Error):  # a read transaction: nothing to lose
                self._conn.execute("COMMIT")

    @property
    def open(self) -> bool:
        """Whether a snapshot is open."""
        return self._conn.in_transaction

    def close(self) -> None:
        self.end()
        self._conn.close()

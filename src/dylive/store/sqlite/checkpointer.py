"""WAL checkpoints on a thread of their own, beside the one writer.

SQLite's automatic checkpoint runs inside a ``COMMIT`` on the writer's connection: at 500 rooms
it held every append for 0.3-0.9 s every ~4 s (fsync of the WAL, the copy of every changed page
into the database, fsync of the database; docs/benchmarks.md, "Checkpoints off the writer
thread"). Here a :class:`Checkpointer` thread, on its own connection, watches the WAL's length in
the wal-index (``-shm``, read through SQLite's own descriptor: see :func:`wal_frames`) and

- every ``passive`` frames runs a PASSIVE checkpoint: it copies the frames committed when it
  began while the writer goes on committing (sqlite3 releases the GIL while SQLite runs);
- once the WAL holds ``restart`` frames, runs one more PASSIVE checkpoint and then a RESTART one
  while the writer is held at ``gate`` (a lock the writer takes around each transaction): only
  the few frames committed since the PASSIVE one are copied with the writer waiting, and the next
  write starts the WAL again from its beginning. A PASSIVE checkpoint alone never lets the WAL
  restart under continuous writes (some frame is always newer than the checkpoint), so the WAL
  would grow without bound.

The writer keeps an automatic checkpoint at a larger size as a safety net (the engine sets it),
so the WAL's pages are still copied back if this thread falls behind or fails. Errors are logged
and retried after ``backoff`` seconds; they never end the thread, :meth:`Checkpointer.stop` does.

Neither gives a hard bound on the WAL's size while readers read: a WAL starts again only when no
reader is still on a snapshot that uses it. The RESTART waits ``busy_ms`` of busy-handler sleeps
for them; on a loaded machine a reader's short read transaction can outlast that (its thread
waits for a core or the GIL), the RESTART reports busy and is tried again ``passive`` frames
later (the next write often restarts the WAL itself, everything being copied). Under load ~12
on 2 cores the WAL was seen reaching ~8x ``restart`` (docs/benchmarks.md, "Seventh session").
"""

from __future__ import annotations

import logging
import os
import sqlite3
import struct
import threading
import time
from dataclasses import dataclass

log = logging.getLogger(__name__)

# wal-index header (https://www.sqlite.org/walformat.html), native byte order: mxFrame (the
# last valid frame) at byte 16 of the first header copy, nBackfill (frames copied back) at 96
_HEADER = struct.Struct("=16xI76xI")


@dataclass(slots=True)
class CheckpointStats:
    """What the thread did (read by tests and benches)."""

    passive: int = 0
    restarts: int = 0
    busy: int = 0  # checkpoints SQLite could not complete (a reader or another process)
    errors: int = 0
    blocked: float = 0.0  # seconds the writer was held at the gate, all restarts
    longest: float = 0.0  # the longest of those holds


def wal_frames(shm: str) -> tuple[int, int] | None:
    """(mxFrame, nBackfill) from the wal-index file, or None when it cannot be read.

    Read through a descriptor SQLite already has open in this process (``os.pread``), never
    through one of our own: closing any descriptor of a file drops every POSIX lock the process
    holds on it, SQLite's lock that tells other processes the wal-index is in use among them
    (https://www.sqlite.org/howtocorrupt.html, 2.2). With an ``open()``/``close()`` here every
    50 ms, another process opening the database took itself for its only user and truncated the
    ``-shm`` under the writer: the service died of SIGBUS in a COMMIT. None when no connection of
    this process has the file open (the checkpointer's own connection keeps it open).
    """
    try:
        fd = _shm_fd(shm)
        head = os.pread(fd, _HEADER.size, 0) if fd is not None else b""
    except OSError:
        return None
    if len(head) < _HEADER.size:
        return None
    frames, backfilled = _HEADER.unpack(head)
    return frames, backfilled


_FD_DIRS = ("/proc/self/fd", "/dev/fd")
_shm_fds: dict[str, int] = {}  # -shm path -> a descriptor of it open in this process, last seen


def _shm_fd(shm: str) -> int | None:
    """A descriptor of ``shm`` this process has open (SQLite's), found by (device, inode) among
    the open descriptors; opens and closes nothing of that file."""
    st = os.stat(shm)
    key = (st.st_dev, st.st_ino)
    fd = _shm_fds.get(shm)
    if fd is not None and _same(fd, key):
        return fd
    _shm_fds.pop(shm, None)
    for fds in _FD_DIRS:
        try:
            listed = os.listdir(fds)
        except OSError:
            continue
        for name in listed:
            if name.isdigit() and _same(int(name), key):
                _shm_fds[shm] = int(name)
                return int(name)
        return None
    return None


def _same(fd: int, key: tuple[int, int]) -> bool:
    try:
        st = os.fstat(fd)
    except OSError:
        return False
    return (st.st_dev, st.st_ino) == key


class Checkpointer:
    """``Checkpointer(path, gate, passive=..., restart=...)``: :meth:`start`, then :meth:`stop`
    before the writer's connection closes. ``passive`` and ``restart`` are in WAL frames.
    ``busy_ms`` (default 10): how long the RESTART, with the writer held, waits for readers of an
    older snapshot; past that it reports busy and is tried again once the WAL has grown by
    ``passive`` frames (docs/benchmarks.md: with 100 ms, 3 of 5 runs at 500 rooms had a p99 of
    1.8-2.3 s and the service waiting)."""

    def __init__(
        self,
        path: str,
        gate: threading.Lock,
        *,
        passive: int,
        restart: int,
        interval: float = 0.05,
        busy_ms: int = 10,
        backoff: float = 1.0,
    ) -> None:
        self.path = path
        self.stats = CheckpointStats()
        self._gate = gate
        self._passive = max(1, passive)
        self._restart = max(self._passive, restart)
        self._interval = interval
        self._busy_ms = busy_ms
        self._backoff = backoff
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._conn: sqlite3.Connection | None = None
        self._copied = 0  # frames copied back as of the last checkpoint (nBackfill)
        self._retry_at = 0  # after a busy RESTART: the WAL length at which to try again
        #: set from when a RESTART is due until one succeeds: kept read snapshots end meanwhile
        self.restart_due = threading.Event()

    def start(self) -> None:
        self._conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._conn.execute(f"PRAGMA busy_timeout={self._busy_ms}")
        # a read opens the wal-index (-shm), kept open with the connection: wal_frames reads it
        self._conn.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchall()
        self._thread = threading.Thread(target=self._run, name="dylive-sqlite-ckpt", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """End the thread (a checkpoint under way finishes first) and close its connection."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _run(self) -> None:
        shm = self.path + "-shm"
        while not self._stop.wait(self._interval):
            try:
                self._step(wal_frames(shm))
            except sqlite3.Error as exc:  # busy beyond busy_ms, I/O: logged, tried again later
                self.stats.errors += 1
                log.warning("sqlite: background checkpoint failed: %s", exc)
                self._stop.wait(self._backoff)

    def _step(self, frames: tuple[int, int] | None) -> None:
        if frames is None:  # no wal-index to read: a PASSIVE checkpoint tells the length
            frames = self._checkpoint("PASSIVE")
        last, backfilled = frames
        if last < self._copied:  # the WAL restarted (or another connection checkpointed)
            self._copied = backfilled
            self._retry_at = 0
            self.restart_due.clear()
        if last >= max(self._restart, self._retry_at) and backfilled < last:
            self.restart_due.set()
            self._checkpoint("PASSIVE")  # the bulk, beside the writer
            self._checkpoint("PASSIVE")  # what was committed during the first: fewer held
            self._restart_wal()
        elif last - max(self._copied, backfilled) >= self._passive:  # (all copied: the
            # next write restarts the WAL)
            self._checkpoint("PASSIVE")

    def _checkpoint(self, mode: str) -> tuple[int, int]:
        conn = self._conn
        assert conn is not None
        busy, last, copied = conn.execute(f"PRAGMA wal_checkpoint({mode})").fetchone()
        if busy:
            self.stats.busy += 1
        if mode == "PASSIVE":
            self.stats.passive += 1
        self._copied = max(copied, 0)
        return max(last, 0), self._copied

    def _restart_wal(self) -> None:
        started = time.perf_counter()
        with self._gate:  # the writer waits here, not in SQLite's busy sleeps
            held = time.perf_counter()
            conn = self._conn
            assert conn is not None
            busy, last, _copied = conn.execute("PRAGMA wal_checkpoint(RESTART)").fetchone()
        hold = time.perf_counter() - held
        self.stats.blocked += hold
        self.stats.longest = max(self.stats.longest, hold)
        if busy:  # a reader kept an older snapshot: try again when the WAL has grown further
            self.stats.busy += 1
            self._retry_at = max(last, 0) + self._passive
            log.debug("sqlite: WAL restart busy after %.3f s", time.perf_counter() - started)
        else:
            self.stats.restarts += 1
            self.restart_due.clear()
            self._copied = 0
            self._retry_at = 0

"""The token change mark of an SQLite database: a small file next to it (``<db>-tokens``) whose
8 bytes every token write of dylive rewrites (with fresh random bytes) after its commit.

The service's token cache (:mod:`.tokens`) reads it on every lookup: one ``pread`` of a file in
the page cache (well under a microsecond) instead of a read transaction on the database, which
after every commit of messages re-reads its pages (~10-20 us). A writer in any process on the
host (``dylive token revoke``, the admin API of another service on the same database) has
rewritten the mark before it reports the change, so the next lookup anywhere sees it.

A writer that does not know the mark (a ``sqlite3`` shell, an older dylive) is still caught by
the tokens table's change counter (``token_generation``), which the cache reads as well, at most
every :data:`RECHECK` seconds. A mark that cannot be opened (a read-only directory) leaves the
cache on that counter alone, read once per batch of event-loop callbacks (as before the mark).
"""

from __future__ import annotations

import logging
import os

log = logging.getLogger(__name__)

#: seconds between two reads of ``token_generation`` while the mark is in use: the longest a token
#: change by a writer that does not rewrite the mark (a ``sqlite3`` shell) goes unseen
RECHECK = 0.25

SUFFIX = "-tokens"


class TokenMark:
    """The mark file of the database at ``db``: :meth:`read` (the loop thread), :meth:`bump`
    (after a committed token write)."""

    __slots__ = ("_fd", "_id", "path")

    def __init__(self, db: str) -> None:
        self.path = db + SUFFIX
        self._fd: int | None = None
        self._id: tuple[int, int] | None = None  # (st_dev, st_ino) of the open file

    def open(self) -> bool:
        """Open (creating it, empty, if missing); False when it cannot be."""
        self.close()
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, _mode(self.path))
        except OSError as exc:
            log.warning(
                "sqlite: no token change mark %s (%s): tokens checked in the db", self.path, exc
            )
            return False
        st = os.fstat(fd)
        self._fd, self._id = fd, (st.st_dev, st.st_ino)
        return True

    def read(self) -> bytes | None:
        """The mark's bytes; None when it cannot be read (then it counts as changed)."""
        fd = self._fd
        if fd is None:
            return None
        try:
            return os.pread(fd, 8, 0)
        except OSError:
            return None

    def replaced(self) -> bool:
        """The file at the path is not the one open (deleted or replaced): reopen it."""
        try:
            st = os.stat(self.path)
        except OSError:
            return True
        return (st.st_dev, st.st_ino) != self._id

    def bump(self) -> None:
        """Rewrite the mark (after a token write committed); a failure is logged, not raised:
        the change is still seen through ``token_generation`` within :data:`RECHECK`."""
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT, _mode(self.path))
            try:
                os.pwrite(fd, os.urandom(8), 0)
            finally:
                os.close(fd)
        except OSError as exc:
            log.warning("sqlite: token change mark %s not written: %s", self.path, exc)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = self._id = None


def _mode(mark: str) -> int:
    """The database file's permission bits (as SQLite gives its ``-wal`` and ``-shm`` files)."""
    try:
        return os.stat(mark[: -len(SUFFIX)]).st_mode & 0o666
    except OSError:
        return 0o644

"""Where a SQLite database's WAL frames go, by b-tree (used by ``bench/writer.py --frames``).

A WAL frame is one whole page written at a commit: 24 bytes of header (the page number first,
big-endian; the database size in pages at byte 4, non-zero on a transaction's last frame) and the
page (https://www.sqlite.org/fileformat2.html#walformat). The frames between two ``mxFrame``
marks of the wal-index are read back from the ``-wal`` file and their page numbers mapped to the
table or index that owns the page by the ``dbstat`` virtual table (as of the end of the window: a
page freed and reused meanwhile counts for its last owner; pages on the freelist show as
``(free)``). Printed per b-tree and page kind (leaf, internal, overflow): frames per stored row,
and the distinct pages per row in each run of ``restart`` frames (what a checkpoint that restarts
the WAL every ``restart`` frames copies back into the database once).

Also: :func:`thread_io`, a thread's read and write system calls so far (``/proc``), to count the
writer thread's ``pread``/``pwrite`` per row without strace.
"""

from __future__ import annotations

import collections
import contextlib
import sqlite3
import struct
from pathlib import Path

_WAL_HEADER = 32
_FRAME_HEADER = struct.Struct(">II16x")


def thread_io(tid: int) -> tuple[int, int]:
    """(read, write) system calls of thread ``tid`` of this process so far."""
    text = Path(f"/proc/self/task/{tid}/io").read_text()
    fields = dict(line.split(": ") for line in text.splitlines())
    return int(fields["syscr"]), int(fields["syscw"])


def frame_pages(wal: str | Path, first: int, last: int, page_size: int) -> list[tuple[int, bool]]:
    """(page number, commit frame) of WAL frames ``first`` (1-based) to ``last``."""
    size = _FRAME_HEADER.size + page_size
    out: list[tuple[int, bool]] = []
    with open(wal, "rb") as f:
        for n in range(first, last + 1):
            f.seek(_WAL_HEADER + (n - 1) * size)
            head = f.read(_FRAME_HEADER.size)
            if len(head) < _FRAME_HEADER.size:
                break
            page, commit = _FRAME_HEADER.unpack(head)
            out.append((page, commit != 0))
    return out


def page_owners(db: str | Path) -> dict[int, str]:
    """page number → "b-tree (kind)" from ``dbstat`` (a read of the latest commit)."""
    with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
        rows = conn.execute("SELECT pageno, name, pagetype FROM dbstat").fetchall()
    return {page: f"{name} ({kind})" for page, name, kind in rows}


def report(
    db: str | Path, first: int, last: int, rows: int, restart: int, commits: int = 0
) -> None:
    """Print the frames ``first``..``last`` of ``db``'s WAL per stored row, by b-tree."""
    with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    frames = frame_pages(f"{db}-wal", first, last, page_size)
    owners = page_owners(db)
    count: collections.Counter[str] = collections.Counter()
    distinct: collections.Counter[str] = collections.Counter()
    for start in range(0, len(frames), restart):
        seen = {page for page, _ in frames[start : start + restart]}
        distinct.update(owners.get(page, "(free)") for page in seen)
    for page, _commit in frames:
        count[owners.get(page, "(free)")] += 1
    n = max(rows, 1)
    ends = sum(1 for _, c in frames if c)
    print(
        f"  WAL frames {first}..{last}: {len(frames):,} frames of {page_size} bytes for {rows:,}"
        f" rows, {ends:,} commits: {len(frames) / n:.2f} frames"
        f" ({len(frames) * (page_size + 24) / n / 1024:.1f} KiB) a row; distinct pages a row in"
        f" runs of {restart:,} frames (a checkpoint's copies): {sum(distinct.values()) / n:.2f}"
    )
    print(f"  {'b-tree (page kind)':<42} {'frames/row':>10} {'distinct/row':>12}")
    for name, frames_of in count.most_common():
        print(f"  {name:<42} {frames_of / n:>10.3f} {distinct[name] / n:>12.3f}")

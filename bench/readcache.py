"""What a commit costs the readers of an SQLite database in WAL mode: a chat page read (50 rows
of one room, 200 rooms interleaved, as bench/pagecost.py lays them out) with and without another
connection committing between two reads.

    .venv/bin/python bench/readcache.py [--mmap BYTES] [--cache KIB] [--snapshot N]
                                        [--rounds 3] [--reads 3000]

SQLite drops a connection's whole page cache when its next read transaction finds the database
changed (any commit, by any connection), so after a commit every page of the next read comes from
the OS again (a ``pread`` each). The service's writer commits many times a second, so its history
pages are read mostly this way. ``--mmap`` sets the reader's ``mmap_size`` (memory-mapped reads
instead of ``pread``); ``--cache`` its ``cache_size`` in KiB (default 65,536: the whole database
fits). Thread CPU of the reads alone; each round runs every mode:

- ``no commits``;
- ``commit, same thread``: a commit (one row of another table) before each read, made by this
  thread (its CPU caches then hold the commit's work, not the reader's);
- ``commit, other thread``: the same commit made by another thread, handed over before each read
  (the service's case: its writer is a thread of its own);
- with ``--snapshot N`` each of those again with the reads inside a read transaction kept
  across ``N`` reads (``BEGIN`` … ``COMMIT``): the page cache stays valid while it is open.

Plain ``sqlite3``, no dylive code: a fact about SQLite on this machine.
"""

from __future__ import annotations

import argparse
import os
import random
import sqlite3
import tempfile
import threading
import time
from pathlib import Path

PAGE = "SELECT seq, rendered FROM events WHERE room_id = ? AND seq > ? ORDER BY seq LIMIT 50"
MODES = ("no commits", "commit, same thread", "commit, other thread")


class Committer:
    """A thread with its own connection that commits one row when asked (``commit()`` returns
    once it is committed)."""

    def __init__(self, path: str) -> None:
        self._go, self._done = threading.Event(), threading.Event()
        self._stop = False
        self._path = path
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        conn = sqlite3.connect(self._path, isolation_level=None)
        i = 0
        while True:
            self._go.wait()
            self._go.clear()
            if self._stop:
                break
            i += 1
            conn.execute("INSERT OR REPLACE INTO positions VALUES (2, ?)", (i,))
            self._done.set()
        conn.close()

    def commit(self) -> None:
        self._done.clear()
        self._go.set()
        self._done.wait()

    def close(self) -> None:
        self._stop = True
        self._go.set()
        self._thread.join()


def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = str(Path(tmp) / "readcache.sqlite3")
        writer = sqlite3.connect(path, isolation_level=None)
        writer.execute("PRAGMA journal_mode=WAL")
        writer.execute("PRAGMA synchronous=NORMAL")
        writer.execute(
            "CREATE TABLE events(seq INTEGER PRIMARY KEY, room_id INTEGER, rendered BLOB)"
        )
        writer.execute("CREATE INDEX events_room_seq ON events(room_id, seq)")
        writer.execute("CREATE TABLE positions(k INTEGER PRIMARY KEY, v INTEGER)")
        body = b"x" * 560  # a rendered message's average size in api.py c
        writer.execute("BEGIN")
        writer.executemany(
            "INSERT INTO events(room_id, rendered) VALUES (?, ?)",
            ((i % args.rooms, body) for i in range(args.rows)),
        )
        writer.execute("COMMIT")
        writer.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        reader = sqlite3.connect(path, isolation_level=None)
        reader.execute(f"PRAGMA cache_size=-{args.cache}")
        if args.mmap:
            reader.execute(f"PRAGMA mmap_size={args.mmap}")
        other = Committer(path)
        rng = random.Random(1)
        print(
            f"{args.rows:,} rows of {args.rooms} rooms; mmap_size {args.mmap}, cache_size"
            f" {args.cache:,} KiB; snapshot {args.snapshot or 'off'}",
            flush=True,
        )
        snapshots = (0, args.snapshot) if args.snapshot else (0,)
        try:
            for rnd in range(args.rounds):
                for mode in MODES:
                    for kept in snapshots:
                        spent = 0.0
                        for i in range(args.reads):
                            if mode == MODES[1]:
                                writer.execute(
                                    "INSERT OR REPLACE INTO positions VALUES (1, ?)", (i,)
                                )
                            elif mode == MODES[2]:
                                other.commit()
                            started = time.thread_time()
                            if kept and i % kept == 0:
                                if reader.in_transaction:
                                    reader.execute("COMMIT")
                                reader.execute("BEGIN")
                            room = rng.randrange(args.rooms)
                            after = rng.randrange(args.rows - 10_000)
                            reader.execute(PAGE, (room, after)).fetchall()
                            spent += time.thread_time() - started
                        if reader.in_transaction:
                            reader.execute("COMMIT")
                        label = f"{mode}{', snapshot' if kept else ''}"
                        print(
                            f"  round {rnd + 1}, {label:32}: {spent / args.reads * 1e6:6.1f} µs"
                            f" a page (load {os.getloadavg()[0]:.2f})",
                            flush=True,
                        )
        finally:
            other.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--rooms", type=int, default=200)
    parser.add_argument("--reads", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--mmap", type=int, default=0, help="the reader's mmap_size (bytes)")
    parser.add_argument("--cache", type=int, default=65_536, help="the reader's cache (KiB)")
    parser.add_argument(
        "--snapshot", type=int, default=0, help="also with reads kept in one read transaction"
    )
    main(parser.parse_args())

"""The SQLite store writing while another process opens the database back to back; no assertions.

A child process appends one record at a time through :class:`~dylive.store.SQLiteStore` (its
checkpointer on, as the service runs) for ``--seconds``; this process meanwhile opens the
database with sqlite3, counts the rows and closes it, every 5 ms (what the durable-restart test,
``sqlite3`` on the command line or a backup script do). Prints the writer's exit code (-7: it
died of SIGBUS), the rows it stored and the opens made. Before the checkpointer read the
wal-index through SQLite's own descriptor, each of its ``open()``/``close()`` of the ``-shm``
file dropped the process's POSIX locks on it, and an opener here truncated the ``-shm`` under the
writer (docs/benchmarks.md, "Seventh session: a restarted service dead of SIGBUS").

Usage: ``python bench/foreign_reader.py [--seconds 15]`` (``PYTHONPATH=<checkout>/src`` picks the
code to run).
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import subprocess
import sys
import tempfile
import time

WRITER = r"""
import asyncio, os, sys, time
from dylive.store import Record, SQLiteStore

async def main():
    async with SQLiteStore(sys.argv[1]) as store:
        end, n = time.monotonic() + float(sys.argv[2]), 0
        while time.monotonic() < end:
            n += 1
            record = Record(room_id=1, msg_id=n, method="WebcastChatMessage", created_at=n,
                            rendered=b'{"m":1}', raw=os.urandom(300))
            await store.append([record])

asyncio.run(main())
"""


def count(db: str) -> None:
    conn = sqlite3.connect(db)
    try:
        conn.execute("SELECT count(*) FROM events").fetchone()
    except sqlite3.OperationalError:  # not created yet, or busy
        pass
    finally:
        conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=15.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="dylive-foreign-") as tmp:
        db = os.path.join(tmp, "foreign.sqlite3")
        writer = subprocess.Popen([sys.executable, "-c", WRITER, db, str(args.seconds)])
        opens = 0
        while writer.poll() is None:
            count(db)
            opens += 1
            time.sleep(0.005)
        conn = sqlite3.connect(db)
        rows = conn.execute("SELECT count(*) FROM events").fetchone()[0]
        conn.close()
    print(f"writer exit {writer.returncode}, rows stored {rows}, opens by this process {opens}")


if __name__ == "__main__":
    main()

"""``dylive export``: stream a room's stored messages as JSON lines, CSV or Parquet."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

from dylive import settings
from dylive.decode.methods import method_names
from dylive.errors import DyliveError

from . import EventStore, is_postgres_url, open_store
from .export import FORMATS, export_room, resolve_room

EXIT_USAGE = 2


class ExportError(DyliveError):
    """A caller mistake reported without a traceback (exit code 2)."""


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "export",
        help="write a room's stored messages as JSON lines, CSV or Parquet, in order",
        description="Stream the stored messages of one room in seq order (bounded memory).",
    )
    p.add_argument("--db", default=None, help="SQLite path or postgresql:// URL (DYLIVE_DB)")
    p.add_argument("--room", required=True, help="room_id, web_rid or live URL")
    p.add_argument("--since-seq", type=int, default=0, metavar="N", help="only seq > N")
    p.add_argument(
        "--methods",
        default="",
        metavar="M1,M2",
        help="method names or short names (chat,gift,…); default: all",
    )
    p.add_argument(
        "--format",
        choices=(*FORMATS, "parquet"),
        default="jsonl",
        help="default: %(default)s; parquet needs --output and pip install 'dylive[parquet]'",
    )
    p.add_argument("--output", "-o", default=None, metavar="FILE", help="default: stdout")
    p.add_argument("--page-size", type=int, default=500, help=argparse.SUPPRESS)
    p.set_defaults(func=_run_export)


def _run_export(args: argparse.Namespace) -> int:
    db = str(args.db or settings.get("db"))
    try:
        methods = method_names(args.methods)
    except ValueError as exc:
        return _fail(f"--methods: {exc}")
    if args.since_seq < 0:
        return _fail("--since-seq must be >= 0")
    if not is_postgres_url(db) and not Path(db).is_file():
        return _fail(f"no database file at {db!r}")
    try:
        count = asyncio.run(_export(db, args, methods))
    except BrokenPipeError:  # the reader stopped early (``| head``): what it asked for
        _quiet_stdout()
        return 0
    except ExportError as exc:
        return _fail(str(exc))
    except DyliveError as exc:
        return _fail(str(exc), code=1)
    except OSError as exc:
        return _fail(f"cannot write {args.output!r}: {exc.strerror or exc}", code=1)
    sys.stderr.write(f"dylive export: {count} messages\n")
    return 0


def _quiet_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush cannot fail again."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
    finally:
        os.close(devnull)


def _fail(message: str, code: int = EXIT_USAGE) -> int:
    sys.stderr.write(f"dylive export: {message}\n")
    return code


async def _export(db: str, args: argparse.Namespace, methods: frozenset[str] | None) -> int:
    store = open_store(db)
    try:
        await store.open()
    except DyliveError as exc:
        await store.close()
        raise ExportError(str(exc)) from exc
    try:
        room_id = await resolve_room(store, args.room)
        if room_id is None:
            raise ExportError(f"unknown room {args.room!r}: nothing stored for it")
        if args.format == "parquet":
            return await _parquet(store, room_id, args, methods)
        with _output(args.output) as out:
            return await export_room(
                store,
                room_id,
                out,
                fmt=args.format,
                since_seq=args.since_seq,
                methods=methods,
                page_size=max(1, args.page_size),
            )
    finally:
        await store.close()


async def _parquet(
    store: EventStore, room_id: int, args: argparse.Namespace, methods: frozenset[str] | None
) -> int:
    if not args.output or args.output == "-":
        raise ExportError("--format parquet writes a file: give --output FILE")
    from dylive.analytics.parquet import export_parquet  # optional dependency: pyarrow

    count: int = await export_parquet(
        store, room_id, args.output, since_seq=args.since_seq, methods=methods
    )
    return count


@contextmanager
def _output(path: str | None) -> Iterator[TextIO]:
    """The output text stream: FILE (UTF-8, no BOM) or stdout's bytes as UTF-8."""
    if path and path != "-":
        with open(path, "w", encoding="utf-8", newline="") as stream:
            yield stream
        return
    sys.stdout.flush()
    stream = io.TextIOWrapper(sys.stdout.buffer, encoding="utf-8", newline="")
    try:
        yield stream
    finally:
        try:
            stream.flush()
        finally:
            with contextlib.suppress(ValueError, OSError):
                stream.detach()  # leave sys.stdout open

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
from .export import FORMATS, TimeWindow, export_room, parse_time, resolve_room

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
    p.add_argument("--room", default=None, help="room_id, web_rid or live URL")
    p.add_argument(
        "--session",
        type=int,
        default=None,
        metavar="ID",
        help="instead of --room: one broadcast (see dylive report / the sessions API)",
    )
    p.add_argument("--since-seq", type=int, default=0, metavar="N", help="only seq > N")
    p.add_argument(
        "--from",
        dest="time_from",
        default=None,
        metavar="TIME",
        help="only messages created at or after TIME: 2026-12-07, 2026-12-07T20:30[+08:00]"
        " (no offset: local time) or epoch ms",
    )
    p.add_argument(
        "--to", dest="time_to", default=None, metavar="TIME", help="only messages before TIME"
    )
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
    p.add_argument(
        "--bom",
        action="store_true",
        help="CSV: start with a UTF-8 byte-order mark (Excel then reads Chinese text right)",
    )
    p.add_argument("--page-size", type=int, default=500, help=argparse.SUPPRESS)
    p.set_defaults(func=_run_export)


def existing_database(db: str | None) -> str:
    """The database a command uses: ``--db``, else DYLIVE_DB, else the default file; a SQLite
    file must exist (DyliveError otherwise): commands that read or change a database never
    create an empty one from a typo or from the folder they happen to run in."""
    url = str(db or settings.get("db"))
    if not is_postgres_url(url) and not Path(url).is_file():
        where = "" if db else " (the default; give --db PATH_OR_URL or set DYLIVE_DB)"
        raise DyliveError(f"no database file at {url!r}{where}")
    return url


def _run_export(args: argparse.Namespace) -> int:
    try:
        methods = method_names(args.methods)
    except ValueError as exc:
        return _fail(f"--methods: {exc}")
    if args.since_seq < 0:
        return _fail("--since-seq must be >= 0")
    if (args.room is None) == (args.session is None):
        return _fail("give --room ROOM or --session ID (one of them)")
    if args.bom and args.format != "csv":
        return _fail("--bom is for --format csv")
    try:
        args.window = window(args.time_from, args.time_to)
    except ValueError as exc:
        return _fail(str(exc))
    try:
        db = existing_database(args.db)
    except DyliveError as exc:
        return _fail(str(exc))
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


def window(time_from: str | None, time_to: str | None) -> TimeWindow | None:
    """The ``--from``/``--to`` window (None when neither is given); ValueError when bad."""
    if time_from is None and time_to is None:
        return None
    start = parse_time(time_from) if time_from is not None else 0
    end = parse_time(time_to) if time_to is not None else 0
    if end and end <= start:
        raise ValueError("--to must be later than --from")
    return TimeWindow(start, end)


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
        room_id = await _room_of(store, args)
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
                window=args.window,
                bom=args.bom,
            )
    finally:
        await store.close()


async def _room_of(store: EventStore, args: argparse.Namespace) -> int:
    """The room ``--room`` names, or the room of the broadcast ``--session`` names (a broadcast
    is one room_id: its messages are that room_id's)."""
    if args.session is not None:
        session = await store.get_session(session_id=args.session)
        if session is None or args.session <= 0:
            raise ExportError(f"no session {args.session}")
        return session.room_id
    room_id = await resolve_room(store, args.room)
    if room_id is None:
        raise ExportError(f"unknown room {args.room!r}: nothing stored for it")
    return room_id


async def _parquet(
    store: EventStore, room_id: int, args: argparse.Namespace, methods: frozenset[str] | None
) -> int:
    if not args.output or args.output == "-":
        raise ExportError("--format parquet writes a file: give --output FILE")
    from dylive.analytics.parquet import export_parquet  # optional dependency: pyarrow

    count: int = await export_parquet(
        store, room_id, args.output, since_seq=args.since_seq, methods=methods, window=args.window
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

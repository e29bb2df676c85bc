"""``dylive report``: a session's report from the store, as Markdown, JSON or CSV.

``dylive report SESSION`` names a session by id; ``dylive report --room ROOM`` takes the latest
session of a room (web_rid, room_id or live URL). A running session is caught up first (live
figures); a finished one is read as stored. Exit 2 for a caller mistake (unknown session, bad
database path), 1 for a storage failure.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

import orjson

from dylive import settings
from dylive.errors import DyliveError
from dylive.store import EventStore, is_postgres_url, open_store
from dylive.store.export import BOM, resolve_room

from .report import DEFAULT_TOP, to_csv, to_markdown
from .service import Analytics

EXIT_USAGE = 2


class ReportError(DyliveError):
    """A caller mistake reported in one line (exit code 2)."""


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "report",
        help="a broadcast's report (gifts, gifters, viewers, reconciliation)",
        description="The report of one stored broadcast (session): md, json or csv.",
    )
    p.add_argument("session", nargs="?", type=int, help="session id (see /api/rooms/ROOM/sessions)")
    p.add_argument("--room", default=None, help="instead of SESSION: the room's latest session")
    p.add_argument("--db", default=None, help="SQLite path or postgresql:// URL (DYLIVE_DB)")
    p.add_argument("--format", choices=("md", "json", "csv"), default="md")
    p.add_argument("--top", type=int, default=DEFAULT_TOP, help="gifters listed (%(default)s)")
    p.add_argument("--output", "-o", default=None, metavar="FILE", help="default: stdout")
    p.add_argument(
        "--bom",
        action="store_true",
        help="CSV: start with a UTF-8 byte-order mark (Excel then reads Chinese text right)",
    )
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    db = str(args.db or settings.get("db"))
    if (args.session is None) == (args.room is None):
        return _fail("give a SESSION id or --room ROOM (one of them)")
    if args.top < 0:
        return _fail("--top must be >= 0")
    if args.bom and args.format != "csv":
        return _fail("--bom is for --format csv")
    if not is_postgres_url(db) and not Path(db).is_file():
        return _fail(f"no database file at {db!r}")
    try:
        report = asyncio.run(_report(db, args))
    except ReportError as exc:
        return _fail(str(exc))
    except DyliveError as exc:
        return _fail(str(exc), code=1)
    text = (BOM if args.bom else "") + render(report, args.format)
    if args.output and args.output != "-":
        Path(args.output).write_text(text, encoding="utf-8")
    else:
        sys.stdout.buffer.write(text.encode("utf-8"))
        sys.stdout.flush()
    return 0


def render(report: dict[str, Any], fmt: str) -> str:
    if fmt == "json":
        return orjson.dumps(report, option=orjson.OPT_INDENT_2).decode() + "\n"
    return to_csv(report) if fmt == "csv" else to_markdown(report)


def _fail(message: str, code: int = EXIT_USAGE) -> int:
    sys.stderr.write(f"dylive report: {message}\n")
    return code


async def _report(db: str, args: argparse.Namespace) -> dict[str, Any]:
    store = open_store(db)
    try:
        await store.open()
    except DyliveError as exc:
        await store.close()
        raise ReportError(str(exc)) from exc
    # a service may be folding the same session: leave its checkpoints alone (read, never move)
    analytics = Analytics(store, checkpoints=False)
    try:
        session_id = args.session if args.session is not None else await _latest(store, args.room)
        report = await analytics.report(session_id, top=args.top)
        if report is None:
            raise ReportError(f"no session {session_id}")
        return report
    finally:
        await analytics.close()
        await store.close()


async def _latest(store: EventStore, ident: str) -> int:
    room_id = await resolve_room(store, ident)
    if room_id is None:
        raise ReportError(f"unknown room {ident!r}: nothing stored for it")
    room = await store.find_room(room_id=room_id)
    sessions = await store.list_sessions(web_rid=room.web_rid if room else "", room_id=room_id)
    if not sessions:
        await Analytics(store).catch_up(room_id)  # stored messages, never analysed: open it
        sessions = await store.list_sessions(room_id=room_id)
    return sessions[0].id

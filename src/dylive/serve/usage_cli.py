"""``dylive usage``: the metered usage of every token (or one) per UTC day or hour, read from the
database (what the running services have flushed: at most one flush interval behind them).

Formats: ``table`` (default, one line per token and period), ``csv`` (the same columns) and
``json`` (the reports of :mod:`dylive.app.usage_report`, as ``GET /api/admin/usage`` answers).
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import sys
import time
from typing import Any

import orjson

from dylive import settings
from dylive.app import usage_report
from dylive.errors import DyliveError
from dylive.store import open_store, require_existing
from dylive.store.dburl import redact

COLUMNS = ("token", "period", "requests", "billable", "messages", "rooms", "bytes", "errors")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser("usage", help="metered usage per token and day or hour")
    p.add_argument("--db", default=None, help="SQLite path or postgresql:// URL (DYLIVE_DB)")
    p.add_argument("--token", default=None, metavar="NAME", help="one token (name or id)")
    p.add_argument("--from", dest="start", default=None, help="YYYY-MM-DD or ISO time (UTC)")
    p.add_argument("--to", dest="end", default=None, help="YYYY-MM-DD (included) or ISO time")
    p.add_argument("--granularity", choices=("day", "hour"), default="day")
    p.add_argument("--format", choices=("table", "csv", "json"), default="table")
    p.set_defaults(func=run)


async def reports(args: argparse.Namespace) -> dict[str, Any]:
    db = str(args.db or settings.get("db"))
    now = time.time_ns() // 1_000_000
    start, end = usage_report.period_range(args.start, args.end, args.granularity, now)
    require_existing(db)
    store = open_store(db)
    await store.open()
    try:
        records = await store.list_tokens()
        token_id = None
        if args.token:
            found = [r for r in records if args.token in (r.name, str(r.id))]
            if not found:
                raise UsageError(f"no token named {args.token!r}")
            token_id = found[-1].id
        names = {r.id: r.name for r in records}
        built = await usage_report.build(
            store, names, start, end, args.granularity, token_id=token_id
        )
    finally:
        await store.close()
    return {
        "granularity": args.granularity,
        "from": _iso(start),
        "to": _iso(end),
        "tokens": built,
    }


class UsageError(DyliveError):
    """The usage command cannot answer (the message says why)."""


def _iso(ms: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ms / 1000))


def rows(data: dict[str, Any]) -> list[tuple[Any, ...]]:
    """One row per token and period (``errors``: answered requests other than 200)."""
    out = []
    for report in data["tokens"]:
        for p in report["periods"]:
            errors = p["requests"] - p["billable"]
            out.append(
                (
                    report["token"],
                    p["period"],
                    p["requests"],
                    p["billable"],
                    p["messages"],
                    p["rooms"],
                    p["bytes"],
                    errors,
                )
            )
    return out


def run(args: argparse.Namespace) -> int:
    try:
        data = asyncio.run(reports(args))
    except (DyliveError, usage_report.RangeError) as exc:
        sys.stderr.write(f"dylive usage: {redact(' '.join(str(exc).split()))}\n")
        return 1
    if args.format == "json":
        sys.stdout.write(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode() + "\n")
    elif args.format == "csv":
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(COLUMNS)
        writer.writerows(rows(data))
    else:
        table = [COLUMNS, *rows(data)]
        widths = [max(len(str(row[i])) for row in table) for i in range(len(COLUMNS))]
        for row in table:
            cells = (
                str(v).rjust(w) if i >= 2 else str(v).ljust(w)
                for i, (v, w) in enumerate(zip(row, widths, strict=True))
            )
            sys.stdout.write("  ".join(cells).rstrip() + "\n")
    return 0

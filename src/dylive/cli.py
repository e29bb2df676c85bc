"""The one entry point: ``dylive serve | demo | sim | watch | decode | token | export | report |
webhook | identities | doctor``.

Each area registers its own subcommands (``register(subparsers)`` in its ``cli`` module); a
subcommand's handler takes the parsed arguments and returns the exit code.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import logging
import sys
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import orjson

from dylive import __version__, settings

#: Modules that register subcommands, in help order.
COMMAND_MODULES = (
    "dylive.serve.cli",  # serve, demo, token
    "dylive.source.cli",  # watch
    "dylive.sim.cli",  # sim
    "dylive.decode.cli",  # decode
    "dylive.store.cli",  # export
    "dylive.analytics.cli",  # report
    "dylive.deliver.cli",  # webhook
    "dylive.identity.cli",  # identities, doctor
)


class JsonFormatter(logging.Formatter):
    """One JSON object per log line: ``time`` (ISO-8601 with offset, ms), ``level``,
    ``logger``, ``message``, and ``exception`` (the formatted traceback) when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        moment = datetime.fromtimestamp(record.created).astimezone()
        line: dict[str, Any] = {
            "time": moment.isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(line).decode()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dylive", description="Douyin live room data: collector, API service, simulator."
    )
    parser.add_argument("--version", action="version", version=f"dylive {__version__}")
    parser.add_argument(
        "--log-level",
        default=settings.get("log_level"),
        help="logging level (DYLIVE_LOG_LEVEL)",
    )
    parser.add_argument(
        "--log-format",
        choices=("text", "json"),
        default=settings.get("log_format"),
        help="log lines as text, or one JSON object per line (DYLIVE_LOG_FORMAT)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        if importlib.util.find_spec(name) is None:
            continue
        importlib.import_module(name).register(sub)
    return parser


def chosen_parser(parser: argparse.ArgumentParser, args: argparse.Namespace) -> Any:
    """The (sub)parser of the command that was given: its usage is the one to show."""
    while True:
        subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        name = getattr(args, subs[0].dest, None) if subs else None
        if not subs or name not in subs[0].choices:
            return parser
        parser = subs[0].choices[name]


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra:  # reported by the subcommand (its usage), not the top-level parser
        chosen_parser(parser, args).error(f"unrecognized arguments: {' '.join(extra)}")
    handler = logging.StreamHandler(sys.stderr)
    if args.log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=str(args.log_level).upper(), handlers=[handler])
    # One line per upstream request is noise at info level; keep it for debug.
    if logging.getLogger().level > logging.DEBUG:
        for noisy in ("httpx", "httpcore", "websockets", "uvicorn.access"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 2
    try:
        return int(func(args) or 0)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())

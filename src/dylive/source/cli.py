"""``dylive watch ROOM``: follow one live room in the terminal (rich view) or as JSON lines.

``--format jsonl`` prints one rendered JSON object (``dylive.decode.render``) per message on
stdout; gaps and status notes go to stderr. The rich view needs a terminal: when stdout is not
one (a pipe, a file) the default format prints one text line per chat, gift, join or follow.
Except in the rich view, a change of the room's state (waiting for a broadcast, live,
reconnecting, ended) is one line on stderr. Errors (room not found, not live, upstream down) are
one line on stderr and a non-zero exit code.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys

import orjson

from dylive import settings
from dylive.decode import render
from dylive.errors import DyliveError, RoomNotFound, RoomNotLive
from dylive.source.collector import CollectorOptions, Room
from dylive.source.gaps import GapEvent

EXIT_NOT_FOUND = 2
EXIT_NOT_LIVE = 3
EXIT_UPSTREAM = 4


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "watch", help="watch a live room (chat, gifts, viewers) in the terminal or as JSON lines"
    )
    p.add_argument("room", help="live URL, web_rid or room_id")
    p.add_argument("--upstream", default=None, help="Douyin-compatible host (DYLIVE_UPSTREAM)")
    p.add_argument("--cookie", default=None, help="cookie string or cookie file (DYLIVE_COOKIE)")
    p.add_argument("--proxy", default=None, help="HTTP or SOCKS proxy URL (DYLIVE_PROXY)")
    p.add_argument("--user-agent", default=None, help="User-Agent (DYLIVE_USER_AGENT)")
    p.add_argument("--follow", action="store_true", help="wait for the next broadcast at live end")
    p.add_argument("--format", choices=("rich", "jsonl"), default="rich")
    p.add_argument("--transport", choices=("auto", "push", "poll"), default="auto")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        return asyncio.run(_watch(args))
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (`dylive watch … | head`): stop quietly, like other Unix tools.
        # Point stdout at /dev/null so the flush at exit does not fail again.
        with contextlib.suppress(OSError, ValueError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except RoomNotFound as exc:
        return _fail(f"room not found: {exc}", EXIT_NOT_FOUND)
    except RoomNotLive as exc:
        return _fail(f"room not live: {exc} (use --follow to wait for it)", EXIT_NOT_LIVE)
    except DyliveError as exc:
        return _fail(f"upstream error: {exc}", EXIT_UPSTREAM)
    except OSError as exc:
        return _fail(f"error: {exc}", 1)


def _fail(line: str, code: int) -> int:
    sys.stderr.write(f"dylive watch: {line}\n")
    return code


def _room(args: argparse.Namespace) -> Room:
    return Room(
        args.room,
        upstream=args.upstream or settings.get("upstream"),
        cookie=args.cookie,
        proxy=args.proxy,
        user_agent=args.user_agent,
        follow=args.follow,
        options=CollectorOptions(transport=args.transport),
    )


async def _watch(args: argparse.Namespace) -> int:
    async with _room(args) as room:
        if args.format == "rich" and sys.stdout.isatty():
            from dylive.source.watch_view import run_view

            await run_view(room)  # the status line says what the room is doing
            return 0
        announcer = asyncio.create_task(_announce(room))
        try:
            await (_jsonl(room) if args.format == "jsonl" else _plain(room))
        finally:
            announcer.cancel()
    return 0


#: What a change of the connection's state is announced as on stderr (not a terminal, jsonl).
ANNOUNCE = {
    "waiting": "{ident} is not live: waiting for its next broadcast (--follow)",
    "live": "{ident} is live",
    "reconnecting": "{ident}: connection lost, reconnecting",
    "ended": "{ident}: the broadcast ended",
}


async def _announce(room: Room, every: float = 0.5) -> None:
    """One stderr line per change of the room's state, so a pipe or a log file shows that the
    watch is waiting (not hung) while no message comes."""
    said = ""
    while True:
        state = room.status().state
        if state != said and state in ANNOUNCE:
            sys.stderr.write(f"dylive watch: {ANNOUNCE[state].format(ident=room.ident)}\n")
            sys.stderr.flush()
        said = state
        await asyncio.sleep(every)


async def _plain(room: Room) -> None:
    """The rich format when stdout is not a terminal: one text line per chat, gift, join…"""
    from dylive.source.watch_view import plain_line

    async for event in room:
        line = plain_line(event)
        if line is not None:
            sys.stdout.write(line + "\n")
            sys.stdout.flush()


async def _jsonl(room: Room) -> None:
    out = sys.stdout.buffer
    async for event in room:
        if isinstance(event, GapEvent):
            sys.stderr.write(
                f"dylive watch: gap {event.start_ms}..{event.end_ms} ({event.reason})\n"
            )
            continue
        out.write(orjson.dumps(render(event)) + b"\n")  # gifts carry the Room's delta
        out.flush()

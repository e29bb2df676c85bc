"""``dylive demo`` (``make run``): the simulator and the API service wired together on SQLite.

Starts the simulator (port 9000) and the API service (port 8000) on SQLite, creates a demo token,
prints ready-to-paste commands (curl for the API, ``dylive watch`` and ``dylive decode`` against
the simulator, with the ports actually bound, and ``dylive`` spelled as this shell can run it:
``.venv/bin/dylive`` after ``make run`` unless the venv is on the PATH) and the demo rooms, and
runs until Ctrl-C. Both
ports are bound with address reuse, so a restart within a minute gets them back; a port another
program listens on is replaced by a free one, and the output says so. The contract's room
(web_rid 615189692839 / room_id 6922580638159719176) is pinned so that data is flowing before the
first request.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import os
import shlex
import shutil
import socket
import sys
from pathlib import Path
from typing import Any

from dylive.listen import ListenError, bind_listener, bound_port
from dylive.store import open_store
from dylive.store.dburl import redact

from . import tokens
from .app import ServiceConfig
from .server import check_store, run_server

WEB_RID = "615189692839"
ROOM_ID = 6922580638159719176


def listen_or_any(host: str, port: int, what: str) -> tuple[socket.socket, str]:
    """A socket on ``port``, else (taken by another program) on a free port; and a note."""
    try:
        return bind_listener(host, port), ""
    except ListenError:
        if port == 0:
            raise
    sock = bind_listener(host, 0)
    return sock, f"note: {what} port {port} is taken; using {bound_port(sock)}\n"


def dylive_command(argv0: str | None = None, executable: str | None = None) -> str:
    """How the user's shell runs this dylive: ``dylive`` when the PATH finds this very script,
    else the script's path (relative to the current folder when under it: ``.venv/bin/dylive``),
    else ``python -m dylive`` with this interpreter."""
    script = Path(argv0 if argv0 is not None else sys.argv[0])
    if script.name != "dylive":  # python -m dylive: the script beside the interpreter, if any
        script = Path(executable or sys.executable).parent / "dylive"
    if not script.is_file():
        return f"{shlex.quote(executable or sys.executable)} -m dylive"
    found = shutil.which("dylive")
    if found and Path(found).resolve() == script.resolve():
        return "dylive"
    full = script.absolute()
    try:
        shown = str(full.relative_to(Path.cwd()))
    except ValueError:
        shown = str(full)
    return shlex.quote(shown if os.sep in shown else f".{os.sep}{shown}")


def curl_lines(base: str, token: str) -> str:
    return "\n".join(
        [
            "Live dashboard (open in a browser):",
            f"  {base}/dashboard?token={token}&room={WEB_RID}",
            "Live stream (Server-Sent Events):",
            f"  curl -N '{base}/api/rooms/{WEB_RID}/stream?token={token}'",
            "Chat and gifts (repeat to continue; add &wait=10 to long-poll):",
            f"  curl '{base}/douyin/liveroom/chat?token={token}&room_id={WEB_RID}'",
            f"  curl '{base}/douyin/liveroom/chat?token={token}&room_id={ROOM_ID}&count=5'",
            "Audience ranking (音浪榜):",
            f"  curl '{base}/douyin/liveroom/audience?token={token}&room_id={WEB_RID}'",
            "Broadcasts and a broadcast's report (gifts, gifters, viewers, reconciliation):",
            f"  curl '{base}/api/rooms/{WEB_RID}/sessions?token={token}'",
            f"  curl '{base}/api/sessions/<id>/report?token={token}&format=md'"
            "   # <id> from the list",
            "A broadcast's report page (open in a browser, <id> from the list):",
            f"  {base}/report?session=<id>&token={token}",
            "Room status, health, docs, metrics:",
            f"  curl '{base}/api/rooms?token={token}'",
            f"  curl '{base}/healthz'   # docs: {base}/docs   metrics: {base}/metrics",
        ]
    )


def sim_lines(sim_url: str, rooms: list[dict[str, Any]], dylive: str = "dylive") -> str:
    """``dylive watch`` / ``dylive decode`` lines against the simulator and its rooms (``dylive``:
    the command as the user's shell runs it, see :func:`dylive_command`)."""
    up = shlex.quote(sim_url)
    lines = [
        "Watch a room in the terminal (the simulator is the upstream):",
        f"  {dylive} watch {WEB_RID} --upstream {up}",
        f"  {dylive} watch {WEB_RID} --upstream {up} --format jsonl | head",
        "Decode a raw im/fetch answer (protobuf) to JSON lines:",
        f"  curl -s '{sim_url}/webcast/im/fetch/?room_id={ROOM_ID}' -o fetch.bin"
        f" && {dylive} decode fetch.bin",
        "Demo rooms (web_rid, room_id, anchor):",
    ]
    for room in rooms:
        state = "live" if room.get("live") else "offline: watch exits 3, add --follow to wait"
        anchor = room.get("anchor", {}).get("nickname", "")
        lines.append(f"  {room['web_rid']:<13} {room['room_id']:<20} {anchor} ({state})")
    return "\n".join(lines)


def path_hint(command: str) -> str:
    """A line on putting ``dylive`` on the PATH, when ``command`` is a path to it."""
    if command == "dylive" or " -m " in command:
        return ""
    folder = str(Path(command).parent)
    where = folder if Path(folder).is_absolute() else f"$PWD/{folder}"
    return (
        f'(to type just `dylive`: export PATH="{where}:$PATH",'
        f" or source {shlex.quote(folder)}/activate)\n"
    )


async def run_demo(args: argparse.Namespace) -> int:
    sim_mod: Any = importlib.import_module("dylive.sim")
    host = args.host
    sim_sock, sim_note = listen_or_any(host, args.sim_port, "simulator")
    api_sock, api_note = listen_or_any(host, args.port, "API")
    # A replaced port is said first, before the store's and the simulator's log lines.
    sys.stdout.write(f"{sim_note}{api_note}")
    sys.stdout.flush()
    try:
        await check_store(args.db)
    except BaseException:
        sim_sock.close()
        api_sock.close()
        raise
    config = sim_mod.SimConfig(port=bound_port(sim_sock), host=host)
    async with sim_mod.SimServer(config, sock=sim_sock) as sim:
        store = open_store(args.db)
        await store.open()
        try:
            await store.revoke_token("demo")  # names are unique: the last run's token goes
            token = await tokens.create(store, "demo")
        finally:
            await store.close()
        config = ServiceConfig.from_settings(
            db=args.db, upstream=sim.base_url, pins=[WEB_RID], signing="v2"
        )
        base = f"http://{host}:{bound_port(api_sock)}"
        dylive = dylive_command()
        sys.stdout.write(
            f"dylive demo: simulator at {sim.base_url}, API at {base}, SQLite {redact(args.db)}\n"
            f"Demo token: {token}\n\n{curl_lines(base, token)}\n\n"
            f"{sim_lines(sim.base_url, sim.rooms(), dylive)}\n{path_hint(dylive)}"
            "\nCtrl-C to stop.\n"
        )
        sys.stdout.flush()
        with contextlib.suppress(asyncio.CancelledError):
            await run_server(config, host, 0, announce=False, sock=api_sock)
    return 0

"""``dylive sim``: run the simulator on one port (default 127.0.0.1:9000)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from typing import Any

from dylive.errors import DyliveError, one_line
from dylive.listen import bind_listener

from .core import SimConfig
from .faults import Faults
from .server import SimServer

log = logging.getLogger(__name__)


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "sim",
        help="run the local Douyin simulator",
        description="A faithful local Douyin (page, web/enter, im/fetch, push socket, ranklist) "
        "with a control plane under /__sim/.",
    )
    p.add_argument("--host", default="127.0.0.1", help="listen address (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=9000, help="listen port (default 9000)")
    p.add_argument("--seed", type=int, default=1, help="scenario seed (default 1)")
    p.add_argument("--rate", type=float, default=5.0, help="messages/s per live room (default 5)")
    p.add_argument("--tick", type=float, default=0.25, help="generation tick in s (default 0.25)")
    p.add_argument("--heartbeat-timeout", type=float, default=30.0, help="s (default 30)")
    p.add_argument("--ping-interval", type=float, default=20.0, help="WS ping every s; 0 = off")
    p.add_argument("--ping-timeout", type=float, default=20.0, help="drop if no pong within s")
    p.add_argument("--abogus", choices=("off", "format", "full"), default="off",
                   help="a_bogus check on web/enter, im/fetch, ranklist (default off)")  # fmt: skip
    p.add_argument("--no-signature-check", action="store_true", help="accept any push signature")
    p.add_argument("--replay-seconds", type=float, default=600.0, help="replay buffer (s)")
    g = p.add_argument_group("faults (all rooms; change at run time via POST /__sim/.../faults)")
    g.add_argument("--drop-every", type=float, default=0.0, help="drop push sockets after s")
    g.add_argument("--corrupt", type=float, default=0.0, help="fraction of corrupt frames")
    g.add_argument("--unknown-methods", type=float, default=0.0, help="fraction of unknown msgs")
    g.add_argument("--duplicates", type=float, default=0.0, help="fraction of frames with a dup")
    g.add_argument("--out-of-order", type=float, default=0.0, help="fraction of reordered frames")
    g.add_argument("--fake-alive", action="store_true", help="only hb/stats flow on sockets")
    g.add_argument("--refuse-handshake", action="store_true", help="refuse every push handshake")
    g.add_argument("--http-5xx", type=float, default=0.0, help="fraction of HTTP 502 answers")
    g.add_argument("--http-empty", type=float, default=0.0, help="fraction of empty 200 answers")
    g.add_argument("--slow-ms", type=int, default=0, help="delay of HTTP answers in ms")
    p.set_defaults(func=run)


def config_from_args(args: argparse.Namespace) -> SimConfig:
    faults = Faults().merged(
        {
            "drop_every": args.drop_every,
            "corrupt": args.corrupt,
            "unknown_methods": args.unknown_methods,
            "duplicates": args.duplicates,
            "out_of_order": args.out_of_order,
            "fake_alive": args.fake_alive,
            "refuse_handshake": args.refuse_handshake,
            "http_5xx": args.http_5xx,
            "http_empty": args.http_empty,
            "slow_ms": args.slow_ms,
        }
    )
    return SimConfig(
        host=args.host,
        port=args.port,
        seed=args.seed,
        rate=args.rate,
        tick=args.tick,
        heartbeat_timeout=args.heartbeat_timeout,
        ping_interval=args.ping_interval or None,
        ping_timeout=args.ping_timeout or None,
        abogus=args.abogus,
        verify_signature=not args.no_signature_check,
        replay_seconds=args.replay_seconds,
        faults=faults,
    )


async def serve(config: SimConfig) -> None:
    sock = bind_listener(config.host, config.port)  # a taken port fails before anything starts
    async with SimServer(config, sock=sock) as sim:
        for room in sim.rooms():
            log.info(
                "room web_rid=%s room_id=%s status=%s %s",
                room["web_rid"], room["room_id"], room["status"], room["anchor"]["nickname"],
            )  # fmt: skip
        log.info(
            "dylive sim ready on %s (control plane: %s/__sim/rooms)", sim.base_url, sim.base_url
        )
        await sim.wait()


def run(args: argparse.Namespace) -> int:
    try:
        config = config_from_args(args)
    except ValueError as exc:
        log.error("bad fault setting: %s", exc)
        return 2
    try:
        asyncio.run(serve(config))
    except KeyboardInterrupt:
        return 130
    except DyliveError as exc:
        sys.stderr.write(f"dylive sim: {one_line(exc)}\n")
        return 1
    return 0

"""``dylive sim``: run the simulator on one port (default 127.0.0.1:9000)."""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Any

from dylive.errors import DyliveError, one_line
from dylive.listen import bind_listener
from dylive.serve import runtime

from .core import SimConfig
from .defences import VERIFICATION_MODES, Defences
from .era import ERAS, Era
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
    _defence_options(p)
    _era_options(p)
    p.set_defaults(func=run)


def _era_options(p: Any) -> None:
    e = p.add_argument_group(
        "the Douyin of 2026 (off by default; per room at run time via POST /__sim/.../era)"
    )
    e.add_argument("--era", choices=ERAS, default="2021",
                   help="2026 = every 2026 behaviour below except --login-gift-limit, plus --gifts-need-login and --risk-by-address")  # fmt: skip
    e.add_argument("--mask-guests", action="store_true",
                   help="guests see viewers as id 111111, masked nickname, no sec_uid")  # fmt: skip
    e.add_argument("--silent-cookieless", action="store_true",
                   help="push sockets without cookies get only heartbeats and room stats")  # fmt: skip
    e.add_argument("--double-gifts", action="store_true",
                   help="each gift send's last message comes twice (2nd: new msg_id, repeat_end 1)")  # fmt: skip
    e.add_argument("--login-gift-limit", type=int, default=0,
                   help="a logged-in push socket gets only its first N gifts (0 = off)")  # fmt: skip
    e.add_argument("--wire-2026", action="store_true",
                   help="2026 cursors, im-live_cursor, ChatMessage.event_time, __ac_nonce, refusals")  # fmt: skip
    e.add_argument("--risk-by-address", action="store_true",
                   help="risk control counts per client address as well as per cookie")  # fmt: skip


def era_from_args(args: argparse.Namespace) -> Era:
    era = Era.named(args.era)
    changes: dict[str, Any] = {
        name: True
        for name in ("mask_guests", "silent_cookieless", "double_gifts", "wire_2026")
        if getattr(args, name)
    }
    if args.login_gift_limit:
        changes["login_gift_limit"] = args.login_gift_limit
    return era.merged(changes)


def _defence_options(p: Any) -> None:
    d = p.add_argument_group("Douyin's defences (off by default; docs/simulator.md)")
    d.add_argument(
        "--gifts-need-login",
        action="store_true",
        help="guests get no gift messages (the log marks them hidden)",
    )
    d.add_argument(
        "--session-ttl",
        type=float,
        default=0.0,
        help="s a POST /__sim/login cookie stays logged in (0 = forever)",
    )
    d.add_argument(
        "--risk-rooms",
        type=int,
        default=0,
        help="distinct rooms one identity may join per risk window (0 = any)",
    )
    d.add_argument(
        "--risk-requests",
        type=int,
        default=0,
        help="page/web-enter/ranklist requests per identity per risk window (0 = any)",
    )
    d.add_argument("--risk-window", type=float, default=60.0, help="risk window in s")
    d.add_argument("--risk-cooldown", type=float, default=60.0, help="s an identity stays flagged")
    d.add_argument(
        "--risk-exits",
        action="store_true",
        help="flag a logged-in cookie used from two client addresses",
    )
    d.add_argument(
        "--sdk-version",
        default="",
        help="require this webcast_sdk_version on the push handshake (e.g. 1.0.15)",
    )
    d.add_argument(
        "--require-origin",
        action="store_true",
        help="refuse push handshakes without Origin and Referer",
    )
    d.add_argument(
        "--push-servers",
        default="",
        help="comma list handed out in push_server_v2 ('self' = this simulator)",
    )
    d.add_argument(
        "--guest-poll-limit",
        type=int,
        default=0,
        help="im/fetch polls per room a guest gets before empty 200s (0 = any)",
    )
    d.add_argument(
        "--verification",
        choices=VERIFICATION_MODES,
        default="off",
        help="serve the verification page to cookieless visitors or everyone",
    )
    d.add_argument("--cold-ranking", action="store_true",
                   help="start broadcasts with an empty audience ranking")  # fmt: skip


def defences_from_args(args: argparse.Namespace) -> Defences:
    servers = tuple(s.strip() for s in args.push_servers.split(",") if s.strip())
    return Defences(
        gifts_need_login=args.gifts_need_login or args.era == "2026",
        session_ttl=args.session_ttl,
        risk_rooms=args.risk_rooms,
        risk_requests=args.risk_requests,
        risk_window=args.risk_window,
        risk_cooldown=args.risk_cooldown,
        risk_exits=args.risk_exits,
        sdk_version=args.sdk_version,
        require_origin=args.require_origin,
        push_servers=servers,
        guest_poll_limit=args.guest_poll_limit,
        verification=args.verification,
        risk_by_address=args.risk_by_address or args.era == "2026",
    )


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
        defences=defences_from_args(args),
        warm_ranking=not args.cold_ranking,
        era=era_from_args(args),
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
        log.error("bad simulator setting: %s", exc)
        return 2
    try:
        # the service's runtime (settings loop and gc): uvloop when installed, and a collector
        # that does not walk the whole emission log every few hundred allocations
        runtime.run(serve(config))
    except KeyboardInterrupt:
        return 130
    except DyliveError as exc:
        sys.stderr.write(f"dylive sim: {one_line(exc)}\n")
        return 1
    return 0

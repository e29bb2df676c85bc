"""``dylive serve``, ``dylive demo`` and ``dylive token create|list|update|revoke``."""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from typing import Any

from dylive import settings
from dylive.deliver.webhooks import WebhookSettings
from dylive.errors import DyliveError
from dylive.store import open_store, require_existing

from . import admin_api, runtime, token_plan, usage_cli
from .app import ServiceConfig
from .server import ServeError, one_line, run_server


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    _register_serve(subparsers)
    _register_token(subparsers)
    usage_cli.register(subparsers)
    p = subparsers.add_parser(
        "demo", help="start the simulator and the API service together and print curl commands"
    )
    p.add_argument("--db", default="dylive-demo.sqlite3", help="SQLite file (default: %(default)s)")
    p.add_argument("--port", type=int, default=8000, help="API port (0 = any free port)")
    p.add_argument("--sim-port", type=int, default=9000, help="simulator port (0 = any free)")
    p.add_argument("--host", default="127.0.0.1")
    p.set_defaults(func=_run_demo)


def _register_serve(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser("serve", help="run the vendor-compatible HTTP API service")
    p.add_argument("--db", default=None, help="SQLite path or postgresql:// URL (DYLIVE_DB)")
    p.add_argument("--upstream", default=None, help="Douyin-compatible host (DYLIVE_UPSTREAM)")
    p.add_argument("--host", default=None, help="listen address (DYLIVE_HOST)")
    p.add_argument("--port", type=int, default=None, help="listen port, 0 = any (DYLIVE_PORT)")
    p.add_argument(
        "--room",
        action="append",
        default=[],
        metavar="ROOM",
        help="pin a room (URL, web_rid or room_id): collect it without polling; repeatable",
    )
    p.add_argument(
        "--idle-timeout",
        type=float,
        default=None,
        help="stop rooms not polled for this many seconds (DYLIVE_IDLE_TIMEOUT, 300)",
    )
    p.add_argument(
        "--retention-hours",
        type=float,
        default=None,
        help="delete messages older than this; 0 = keep forever (DYLIVE_RETENTION_HOURS, 0)",
    )
    p.add_argument(
        "--usage-retention-days",
        type=float,
        default=None,
        metavar="DAYS",
        help="delete usage counters older than this, never of the current month; 0 = keep"
        " forever (DYLIVE_USAGE_RETENTION_DAYS, 400)",
    )
    p.add_argument(
        "--audit-retention-days",
        type=float,
        default=None,
        metavar="DAYS",
        help="delete admin audit entries older than this; 0 = keep forever"
        " (DYLIVE_AUDIT_RETENTION_DAYS, 0)",
    )
    p.add_argument("--signing", default=None, choices=("v1", "v2", "off"), help="DYLIVE_SIGNING")
    p.add_argument("--cookie", default=None, help="cookie string or file (DYLIVE_COOKIE)")
    p.add_argument(
        "--proxy", default=None, help="HTTP or SOCKS proxy for upstream traffic (DYLIVE_PROXY)"
    )
    p.add_argument(
        "--user-agent", default=None, help="User-Agent sent and signed upstream (DYLIVE_USER_AGENT)"
    )
    p.add_argument("--no-ranklist", action="store_true", help="never ask upstream for the ranking")
    p.add_argument(
        "--allow-private-webhooks",
        action="store_true",
        help="let webhooks target loopback/private/link-local addresses (refused by default)",
    )
    p.add_argument(
        "--douyinlive-token",
        default=None,
        metavar="NAME",
        help="token (by name) for /ws/{live_id} clients that send none (douyinLive clients)",
    )
    f = p.add_argument_group("fleet (PostgreSQL only: several nodes on one database)")
    f.add_argument("--node-id", default="", help="this node's id (default: host name + pid)")
    f.add_argument(
        "--max-rooms", type=int, default=500, help="rooms this node collects at most (500)"
    )
    f.add_argument(
        "--lease-ttl",
        type=float,
        default=10.0,
        help="seconds a room lease lasts without renewal; a dead node's rooms move after it (10)",
    )
    f.add_argument("--no-fleet", action="store_true", help="PostgreSQL without fleet mode")
    p.add_argument(
        "--sink",
        default="",
        metavar="URL",
        help="publish every stored message to NATS JetStream: nats://host:port[?stream=NAME]",
    )
    p.add_argument(
        "--admin-key",
        default=None,
        metavar="KEY",
        help="enable the admin API with this key (DYLIVE_ADMIN_KEY; only its digest is kept)",
    )
    p.add_argument(
        "--usage-flush",
        type=float,
        default=2.0,
        metavar="SECONDS",
        help="flush metered usage to the database this often (2); a crash loses at most this",
    )
    p.add_argument(
        "--no-metering", action="store_true", help="do not meter usage (no quotas either)"
    )
    p.set_defaults(func=_run_serve)


def _register_token(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser("token", help="create, list, update or revoke API tokens")
    sub = p.add_subparsers(dest="token_command", metavar="ACTION", required=True)
    create = sub.add_parser("create", help="create a token and print it (shown only once)")
    create.add_argument("--name", required=True)
    _plan_options(create, update=False)
    listing = sub.add_parser("list", help="list tokens (never their secrets)")
    update = sub.add_parser(
        "update",
        help="change an active token's plan in place, by name or id (same secret; effective"
        " at once)",
    )
    revoke = sub.add_parser("revoke", help="revoke a token by name or id (immediately effective)")
    for q in (update, revoke):
        which = q.add_mutually_exclusive_group(required=True)
        which.add_argument("ident", nargs="?", metavar="TOKEN", help="the name of the active token")
        which.add_argument("--id", type=int, dest="token_id", help="the token with this id")
    update.add_argument(
        "--name",
        default=None,
        metavar="NEW_NAME",
        help="rename it (unique among active tokens)",
    )
    _plan_options(update, update=True)
    for q in (create, listing, update, revoke):
        q.add_argument("--db", default=None, help="SQLite path or postgresql:// URL (DYLIVE_DB)")
    create.set_defaults(func=_token_create)
    listing.set_defaults(func=_token_list)
    update.set_defaults(func=_token_update)
    revoke.set_defaults(func=_token_revoke)


def _plan_options(p: argparse.ArgumentParser, *, update: bool) -> None:
    """The plan options of ``token create`` and ``token update`` (an update changes only the
    options given)."""
    p.add_argument(
        "--room-limit",
        type=int,
        default=None,
        help="rooms it may poll at a time; 0 = no limit (DYLIVE_ROOM_LIMIT, 10)",
    )
    p.add_argument(
        "--rate", type=float, default=None if update else 0.0, help="requests/s (0 = no limit)"
    )
    for quota in token_plan.QUOTA_FIELDS:
        per, period = quota.split("_per_")
        p.add_argument(
            f"--{quota.replace('_', '-')}",
            type=int,
            default=None,
            metavar="N",
            help=f"{'billable requests' if per == 'requests' else 'messages delivered'}"
            f" allowed per UTC {period} (0 = no limit)",
        )
    expiry = p.add_mutually_exclusive_group()
    expiry.add_argument(
        "--expires-at",
        default=None,
        metavar="TIME",
        help="expiry: an ISO time (UTC unless it has an offset) or epoch seconds",
    )
    expiry.add_argument(
        "--expires-in",
        type=float,
        default=None,
        metavar="SECONDS",
        help="expiry in this many seconds from now (up to 10 years)",
    )
    if update:
        expiry.add_argument("--no-expiry", action="store_true", help="never expires")


# -- token --------------------------------------------------------------------------------------
def _db(args: argparse.Namespace) -> str:
    return str(args.db or settings.get("db"))


async def _with_store(db: str, action: Any, *, create: bool = False) -> Any:
    """Run ``action(store)``; only ``create`` may make a new SQLite file (no typo databases)."""
    if not create:
        require_existing(db)
    store = open_store(db)
    await store.open()
    try:
        return await action(store)
    finally:
        await store.close()


def _token_command(args: argparse.Namespace, action: Any, *, create: bool = False) -> Any:
    """The action's result, or None after a one-line error on stderr."""
    try:
        return asyncio.run(_with_store(_db(args), action, create=create))
    except DyliveError as exc:
        sys.stderr.write(f"dylive token: {one_line(exc)}\n")
        return None


def plan_body(args: argparse.Namespace) -> dict[str, Any]:
    """``token create``'s or ``token update``'s options as the admin API's body (checked by
    ``token_plan.plan_of`` / ``change_of``): only the options given (and create's name)."""
    body: dict[str, Any] = {}
    for name in ("name", "rate", "room_limit"):
        if getattr(args, name) is not None:
            body[name] = getattr(args, name)
    quota = {q: getattr(args, q) for q in token_plan.QUOTA_FIELDS}
    if any(value is not None for value in quota.values()):
        body["quota"] = {q: value for q, value in quota.items() if value is not None}
    if getattr(args, "no_expiry", False):
        body["expires_at"] = None
    if args.expires_in is not None:
        body["expires_in"] = args.expires_in
    if args.expires_at is not None:
        try:
            body["expires_at"] = float(args.expires_at)  # epoch seconds
        except ValueError:
            body["expires_at"] = args.expires_at  # an ISO time
    return body


def _token_create(args: argparse.Namespace) -> int:
    try:  # checked before the database is opened (or created)
        plan = token_plan.plan_of(plan_body(args), time.time_ns() // 1_000_000)
    except DyliveError as exc:
        sys.stderr.write(f"dylive token: {one_line(exc)}\n")
        return 1

    async def create(store: Any) -> str:
        return (await plan.create(store))[1]

    secret = _token_command(args, create, create=True)
    if secret is None:
        return 1
    sys.stdout.write(secret + "\n")
    return 0


def _token_list(args: argparse.Namespace) -> int:
    async def listing(store: Any) -> Any:
        return await store.list_tokens()

    records = _token_command(args, listing)
    if records is None:
        return 1
    sys.stdout.write("id\tname\troom_limit\trate\tcreated\tstatus\n")
    for r in records:
        created = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(r.created_at / 1000))
        status = (
            "revoked"
            if not r.active
            else "expired"
            if r.expired(time.time_ns() // 10**6)
            else "active"
        )
        sys.stdout.write(f"{r.id}\t{r.name}\t{r.room_limit}\t{r.rate:g}\t{created}\t{status}\n")
    return 0


def _token_update(args: argparse.Namespace) -> int:
    ident: str | int = args.ident if args.token_id is None else args.token_id
    what = f"id {ident}" if isinstance(ident, int) else f"named {ident!r}"
    try:  # checked before the database is opened
        change = token_plan.change_of(plan_body(args), time.time_ns() // 1_000_000)
    except DyliveError as exc:
        sys.stderr.write(f"dylive token: {one_line(exc)}\n")
        return 1

    async def update(store: Any) -> str:
        found = [r for r in await store.list_tokens() if r.active and ident in (r.id, r.name)]
        if not found:
            return ""
        changed = await store.update_token(found[-1].id, change)
        return "" if changed is None else token_plan.describe(*changed)

    done = _token_command(args, update)
    if done is None:
        return 1
    if not done:
        sys.stderr.write(f"dylive token: no active token {what}\n")
        return 1
    sys.stdout.write(f"updated the token {what}: {done}\n")
    return 0


def _token_revoke(args: argparse.Namespace) -> int:
    ident: str | int = args.ident if args.token_id is None else args.token_id

    async def revoke(store: Any) -> int:
        count: int = await store.revoke_token(ident)
        return count

    count = _token_command(args, revoke)
    if count is None:
        return 1
    what = f"id {ident}" if isinstance(ident, int) else f"named {ident!r}"
    if not count:
        sys.stderr.write(f"dylive token: no active token {what}\n")
        return 1
    sys.stdout.write(f"revoked the token {what}\n")
    return 0


# -- serve --------------------------------------------------------------------------------------
def admin_digest(args: argparse.Namespace) -> str:
    """The digest of ``--admin-key`` / ``DYLIVE_ADMIN_KEY`` ("" = no admin API)."""
    key = args.admin_key if args.admin_key is not None else settings.get("admin_key")
    key = key.strip()
    if key and len(key) < 16:
        raise ServeError("the admin key must be at least 16 characters long")
    return admin_api.key_digest(key) if key else ""


def serve_config(args: argparse.Namespace) -> ServiceConfig:
    if not args.usage_flush > 0:
        raise ServeError(f"--usage-flush must be > 0, not {args.usage_flush}")
    return ServiceConfig.from_settings(
        admin_key_digest=admin_digest(args),
        metering=not args.no_metering,
        usage_flush=args.usage_flush,
        db=args.db,
        upstream=args.upstream,
        pins=list(args.room),
        idle_timeout=settings.number("idle_timeout", args.idle_timeout),
        retention_hours=settings.number("retention_hours", args.retention_hours),
        usage_retention_days=settings.number("usage_retention_days", args.usage_retention_days),
        audit_retention_days=settings.number("audit_retention_days", args.audit_retention_days),
        signing=args.signing,
        cookie=args.cookie,
        proxy=args.proxy,
        user_agent=args.user_agent,
        ranklist=False if args.no_ranklist else None,
        webhook_settings=WebhookSettings(allow_private=True)
        if args.allow_private_webhooks
        else None,
        douyinlive_token=args.douyinlive_token,
        node_id=args.node_id,
        max_rooms=args.max_rooms,
        lease_ttl=args.lease_ttl,
        fleet=False if args.no_fleet else None,
        sink=args.sink,
    )


def _run_serve(args: argparse.Namespace) -> int:
    host = args.host or settings.get("host")
    try:
        port = int(settings.number("port", args.port))
        config = serve_config(args)
        runtime.run(run_server(config, host, port))
    except KeyboardInterrupt:
        return 130
    except DyliveError as exc:
        sys.stderr.write(f"dylive serve: {one_line(exc)}\n")
        return 1
    return 0


def _run_demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    try:
        code: int = asyncio.run(run_demo(args))
        return code
    except KeyboardInterrupt:
        return 130
    except DyliveError as exc:
        sys.stderr.write(f"dylive demo: {one_line(exc)}\n")
        return 1

"""``dylive identities add|list|check|remove`` and ``dylive doctor``.

Cookie values are never printed: listings show cookie names and the first 4 characters of each
value. Errors are one line on stderr (exit 2 for bad input, 1 for a failed check), never a
traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

import httpx

from dylive import settings
from dylive.errors import DyliveError, RoomNotFound
from dylive.source.credentials import Identity, load_cookie
from dylive.source.room import parse_ident
from dylive.store import EventStore, IdentityRecord, open_store
from dylive.store.cli import existing_database

from .check import login_state
from .doctor import Check, diagnose, proxy_label, summary
from .pool import EXPIRED, OK, logged_in_cookie, mask_cookie

#: The room ``dylive doctor`` looks at when none is given (the API contract's example room).
DOCTOR_ROOM = "615189692839"


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "identities", help="manage the identity pool (cookie + proxy + User-Agent)"
    )
    sub = p.add_subparsers(dest="identities_command", metavar="ACTION", required=True)
    add = sub.add_parser("add", help="add or replace an identity")
    add.add_argument("name")
    add.add_argument("--cookie", required=True, help="Cookie header value or cookie file")
    add.add_argument("--proxy", default="", help="the one exit this cookie is used from")
    add.add_argument("--user-agent", default="", help="default: DYLIVE_USER_AGENT")
    add.add_argument("--max-rooms", type=int, default=0, help="rooms at a time (0 = default)")
    listing = sub.add_parser("list", help="list identities (cookie values masked)")
    check = sub.add_parser("check", help="ask the room page whether each cookie is logged in")
    check.add_argument("name", nargs="?", help="one identity (default: all)")
    check.add_argument("--upstream", default=None, help="DYLIVE_UPSTREAM")
    check.add_argument("--room", default=DOCTOR_ROOM, help="room page to ask (web_rid)")
    remove = sub.add_parser("remove", help="delete an identity")
    remove.add_argument("name")
    for q in (add, listing, check, remove):
        q.add_argument("--db", default=None, help="SQLite path or postgresql:// URL (DYLIVE_DB)")
    add.set_defaults(func=_add)
    listing.set_defaults(func=_list)
    check.set_defaults(func=_check)
    remove.set_defaults(func=_remove)
    _register_doctor(subparsers)


def _register_doctor(subparsers: Any) -> None:
    d = subparsers.add_parser(
        "doctor", help="check a setup against Douyin: one line per check, exit 1 on a failure"
    )
    d.add_argument("room", nargs="?", default=DOCTOR_ROOM, help="live URL or web_rid")
    d.add_argument("--upstream", default=None, help="DYLIVE_UPSTREAM")
    who = d.add_mutually_exclusive_group()
    who.add_argument("--cookie", default=None, help="cookie string or file (DYLIVE_COOKIE)")
    who.add_argument("--identity", default=None, help="a stored identity (see identities)")
    d.add_argument("--proxy", default=None, help="DYLIVE_PROXY")
    d.add_argument("--signing", default=None, choices=("v1", "v2", "off"), help="DYLIVE_SIGNING")
    d.add_argument("--watch", type=float, default=30.0, help="s to watch for gifts (default 30)")
    d.add_argument("--db", default=None, help="where --identity is stored (DYLIVE_DB)")
    d.set_defaults(func=_doctor)


# ---------------------------------------------------------------- plumbing


def _fail(message: str, code: int = 2) -> int:
    sys.stderr.write(f"dylive: {message}\n")
    return code


async def _with_store(db: str | None, action: Any, *, create: bool = False) -> Any:
    """Run ``action(store)``; only ``create`` (``identities add``) may make a new SQLite file."""
    store = open_store(str(db or settings.get("db")) if create else existing_database(db))
    await store.open()
    try:
        return await action(store)
    finally:
        await store.close()


def _run(db: str | None, action: Any, *, create: bool = False) -> Any:
    return asyncio.run(_with_store(db, action, create=create))


# ---------------------------------------------------------------- identities


def _add(args: argparse.Namespace) -> int:
    try:
        cookie = load_cookie(args.cookie)
    except DyliveError as exc:
        return _fail(str(exc))
    if not cookie:
        return _fail("the cookie is empty")
    if args.max_rooms < 0:
        return _fail("--max-rooms must be >= 0")
    record = IdentityRecord(
        name=args.name, cookie=cookie, proxy=args.proxy, user_agent=args.user_agent,
        max_rooms=args.max_rooms,
    )  # fmt: skip

    async def save(store: EventStore) -> None:
        await store.save_identity(record)

    try:
        _run(args.db, save, create=True)
    except DyliveError as exc:
        return _fail(str(exc), 1)
    kind = "logged-in" if logged_in_cookie(cookie) else "guest (no sessionid)"
    sys.stdout.write(f"saved identity {args.name}: {mask_cookie(cookie)} [{kind}]\n")
    return 0


def _list(args: argparse.Namespace) -> int:
    async def listing(store: EventStore) -> list[IdentityRecord]:
        return await store.identities()

    try:
        records = _run(args.db, listing)
    except DyliveError as exc:
        return _fail(str(exc), 1)
    sys.stdout.write("name\tstate\tstrikes\tmax_rooms\tproxy\tcookie\tnote\n")
    for r in records:
        proxy = proxy_label(r.proxy) if r.proxy else "direct"
        sys.stdout.write(
            f"{r.name}\t{r.state}\t{r.strikes}\t{r.max_rooms or 'default'}\t{proxy}\t"
            f"{mask_cookie(r.cookie)}\t{r.note}\n"
        )
    return 0


def _remove(args: argparse.Namespace) -> int:
    async def remove(store: EventStore) -> int:
        return await store.remove_identity(args.name)

    try:
        count = _run(args.db, remove)
    except DyliveError as exc:
        return _fail(str(exc), 1)
    if not count:
        return _fail(f"no identity named {args.name!r}", 1)
    sys.stdout.write(f"removed identity {args.name}\n")
    return 0


async def _check_one(store: EventStore, rec: IdentityRecord, upstream: str, room: str) -> bool:
    ident = Identity(
        cookie=rec.cookie, user_agent=rec.user_agent or settings.get("user_agent"),
        proxy=rec.proxy or None,
    )  # fmt: skip
    try:
        async with httpx.AsyncClient(proxy=ident.proxy, timeout=10.0, trust_env=False) as http:
            state = await login_state(http, upstream, ident, room)
    except httpx.HTTPError as exc:
        sys.stdout.write(f"✗ {rec.name}: upstream unreachable ({type(exc).__name__})\n")
        return False
    if state is None:
        sys.stdout.write(f"– {rec.name}: the room page does not say whether it is logged in\n")
        return True
    new = OK if state else EXPIRED
    note = "logged in" if state else "no longer logged in"
    if new != rec.state or not state:
        await store.set_identity_state(
            rec.name, state=new, cooldown_until=rec.cooldown_until, strikes=rec.strikes, note=note
        )
    mark = "✓" if state else "✗"
    advice = "" if state else " — take a fresh cookie from a browser and `identities add` it"
    sys.stdout.write(f"{mark} {rec.name}: {note}{advice}\n")
    return state


def _check(args: argparse.Namespace) -> int:
    upstream = args.upstream or settings.get("upstream")

    async def check(store: EventStore) -> int:
        records = [r for r in await store.identities() if args.name in (None, r.name)]
        if not records:
            return _fail("no such identity" if args.name else "no identities stored", 1)
        results = [await _check_one(store, r, upstream, args.room) for r in records]
        return 0 if all(results) else 1

    try:
        code: int = _run(args.db, check)
    except DyliveError as exc:
        return _fail(str(exc), 1)
    return code


# ---------------------------------------------------------------- doctor


async def _doctor_identity(args: argparse.Namespace) -> Identity:
    if args.identity:

        async def find(store: EventStore) -> IdentityRecord | None:
            return next((r for r in await store.identities() if r.name == args.identity), None)

        rec = await _with_store(args.db, find)
        if rec is None:
            raise LookupError(f"no identity named {args.identity!r}")
        return Identity(
            cookie=rec.cookie,
            user_agent=rec.user_agent or settings.get("user_agent"),
            proxy=args.proxy or rec.proxy or None,
        )
    return Identity.build(cookie=args.cookie, proxy=args.proxy)


def _print(check: Check) -> None:
    sys.stdout.write(check.line() + "\n")
    sys.stdout.flush()


def _doctor(args: argparse.Namespace) -> int:
    try:
        web_rid, _ = parse_ident(args.room)
        if not web_rid:
            return _fail("doctor needs a live URL or web_rid (not an internal room_id)")
        if args.watch < 0:
            return _fail("--watch must be >= 0")
        identity = asyncio.run(_doctor_identity(args))
    except (RoomNotFound, LookupError, DyliveError) as exc:
        return _fail(str(exc))
    upstream = args.upstream or settings.get("upstream")
    checks = asyncio.run(
        diagnose(
            web_rid,
            upstream=upstream,
            identity=identity,
            signing=args.signing or settings.get("signing"),
            watch_seconds=args.watch,
            report=_print,
        )
    )
    counts = summary(checks)
    sys.stdout.write(
        f"{counts['passed']} passed, {counts['failed']} failed, {counts['skipped']} skipped\n"
    )
    return 1 if counts["failed"] else 0

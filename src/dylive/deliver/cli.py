"""``dylive webhook add|list|remove``: manage webhooks in the store (a running ``dylive serve``
picks changes up within seconds). Secrets are printed only when generated, once."""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from typing import Any

from dylive.errors import DyliveError, RoomNotFound
from dylive.source.room import parse_ident
from dylive.store import EventStore, WebhookRecord, open_store
from dylive.store.cli import existing_database

from .targets import resolve_target
from .webhooks import consumer_name, new_secret


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser("webhook", help="add, list or remove webhooks")
    sub = p.add_subparsers(dest="webhook_command", metavar="ACTION", required=True)
    add = sub.add_parser("add", help="register a webhook for a token's rooms")
    add.add_argument("--token", required=True, help="owner token (name or id)")
    add.add_argument("--url", required=True, help="http(s) URL that receives signed POSTs")
    add.add_argument(
        "--room", action="append", required=True, metavar="ROOM", help="web_rid/room_id; repeatable"
    )
    add.add_argument("--methods", default="", help="comma-separated methods (default: chat set)")
    add.add_argument(
        "--secret-file",
        default=None,
        help="read the signing secret from this file (default: generate one and print it once)",
    )
    add.add_argument("--batch-size", type=int, default=100, help="messages per POST (1..1000)")
    add.add_argument("--batch-ms", type=int, default=100, help="wait this long to fill a batch")
    add.add_argument(
        "--allow-private-webhooks",
        action="store_true",
        help="accept loopback/private/link-local targets (the service needs the same option)",
    )
    listing = sub.add_parser("list", help="list webhooks (never their secrets)")
    remove = sub.add_parser("remove", help="remove a webhook by id")
    remove.add_argument("id", type=int)
    for q in (add, listing, remove):
        q.add_argument("--db", default=None, help="SQLite path or postgresql:// URL (DYLIVE_DB)")
    add.set_defaults(func=_add)
    listing.set_defaults(func=_list)
    remove.set_defaults(func=_remove)


#: How ``webhook add`` allows a private target (the service needs the same option to send).
CLI_REMEDY = (
    "add --allow-private-webhooks to this command, and run the service with "
    "dylive serve --allow-private-webhooks"
)


async def _with_store(args: argparse.Namespace, action: Any) -> Any:
    store = open_store(existing_database(args.db))
    await store.open()
    try:
        return await action(store)
    finally:
        await store.close()


def _run(args: argparse.Namespace, action: Any) -> int:
    try:
        code: int = asyncio.run(_with_store(args, action))
    except DyliveError as exc:
        sys.stderr.write(f"dylive webhook: {exc}\n")
        return 1
    return code


def _read_secret(path: str | None) -> tuple[str, bool]:
    if path is None:
        return new_secret(), True
    with open(path, encoding="utf-8") as handle:
        secret = handle.read().strip()
    if not 16 <= len(secret) <= 256:
        raise DyliveError("the secret must be 16 to 256 characters")
    return secret, False


def _add(args: argparse.Namespace) -> int:
    try:
        secret, generated = _read_secret(args.secret_file)
        for ident in args.room:
            parse_ident(ident)
    except (OSError, DyliveError, RoomNotFound) as exc:
        sys.stderr.write(f"dylive webhook: {exc}\n")
        return 2
    if not 1 <= args.batch_size <= 1000 or not 0 <= args.batch_ms <= 60_000:
        sys.stderr.write("dylive webhook: --batch-size 1..1000, --batch-ms 0..60000\n")
        return 2
    methods = tuple(m.strip() for m in args.methods.split(",") if m.strip())

    async def add(store: EventStore) -> int:
        await resolve_target(args.url, allow_private=args.allow_private_webhooks, remedy=CLI_REMEDY)
        token = await _token(store, args.token)
        hook = WebhookRecord(
            0, token, args.url, secret, tuple(args.room), methods, args.batch_size, args.batch_ms
        )
        hook_id = await store.create_webhook(hook)
        for ident in args.room:  # rooms already stored: deliver only what comes next
            web_rid, room_id = parse_ident(ident)
            room = await store.find_room(room_id=int(room_id or 0), web_rid=web_rid)
            if room is not None:
                seq = await store.last_seq(room.room_id)
                await store.set_consumer_position(consumer_name(hook_id), room.room_id, seq)
        sys.stdout.write(f"webhook {hook_id} added\n")
        if generated:
            sys.stdout.write(f"secret (shown only now): {secret}\n")
        return 0

    return _run(args, add)


async def _token(store: EventStore, ident: str) -> int:
    for token in await store.list_tokens():
        if token.active and (token.name == ident or str(token.id) == ident):
            return token.id
    raise DyliveError(f"no active token named {ident!r}")


def _list(args: argparse.Namespace) -> int:
    async def listing(store: EventStore) -> int:
        hooks = await store.webhooks()
        sys.stdout.write("id\ttoken\turl\trooms\tmethods\tstate\tdead_letters\tcreated\n")
        for h in hooks:
            letters = await store.count_dead_letters(consumer_name(h.id))
            state = f"paused ({h.pause_reason})" if h.paused_at else "active"
            created = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(h.created_at / 1000))
            rooms, methods = ",".join(h.rooms), ",".join(h.methods) or "default"
            sys.stdout.write(
                f"{h.id}\t{h.token_id}\t{h.url}\t{rooms}\t{methods}\t{state}\t{letters}\t{created}\n"
            )
        return 0

    return _run(args, listing)


def _remove(args: argparse.Namespace) -> int:
    async def remove(store: EventStore) -> int:
        if not await store.delete_webhook(args.id):
            sys.stderr.write(f"dylive webhook: no webhook {args.id}\n")
            return 1
        sys.stdout.write(f"webhook {args.id} removed\n")
        return 0

    return _run(args, remove)

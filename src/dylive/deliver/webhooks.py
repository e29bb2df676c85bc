"""Webhooks: registration rules and one durable :class:`~dylive.deliver.outbox.Outbox` per webhook.

- A webhook belongs to the API token that created it; ``rooms`` are room identifiers (web_rid,
  room_id or URL) as elsewhere, ``methods`` filters like the chat endpoint (default: its set).
- Its consumer name is ``webhook:<id>``. Rooms resolved when the webhook is created start at their
  newest stored message (only what is stored afterwards is delivered); a room first seen later
  (a web_rid's next broadcast) is delivered from its first stored message.
- The service re-reads the webhooks table every ``sync_interval`` seconds, so ``dylive webhook
  add|remove`` (another process) takes effect on a running service, and so does a pause or resume.
- ``live_status`` (opt-in: the name among a webhook's ``methods``): when a followed room's
  broadcast ends or the next one starts, a signed ``{"event": "live_status", "status", …}`` POST
  (``X-Dylive-Event: live_status``), retried a few times; not kept in the outbox (a status, not
  a stored message).
- ``keeper(hook, ident)`` (given by the HTTP service) keeps each room collected while a webhook
  wants it and returns its current room_id (None while it cannot be resolved); it is called every
  ``keep_interval`` seconds and enforces the owner token's room limit.
- Owner token: a webhook of a revoked or expired token delivers nothing (its outbox pauses in
  memory, keeping its positions: a token given a later expiry resumes where it stopped).
  ``halted(token)`` (given by the HTTP service: the token's message quota) names why a valid
  token may receive nothing now; its webhooks pause the same way and resume at the next sync
  after the quota resets or is raised, delivering what was stored meanwhile (nothing is
  skipped). Both are looked at every ``sync_interval`` seconds.
- Secrets: new ones are ``whsec_`` + the standard base64 of 32 random bytes (the Standard Webhooks
  form, see :mod:`~dylive.deliver.webhook_sink`). :meth:`WebhookService.rotate` replaces a secret
  and keeps the previous one signing for a grace period.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import secrets
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from dylive.errors import DyliveError
from dylive.source.room import parse_ident
from dylive.store import EventStore, TokenRecord, WebhookRecord

from .http_post import Poster
from .outbox import Outbox, OutboxPolicy
from .targets import resolve_target
from .webhook_sink import SECRET_PREFIX, WebhookSink, whsec_key

log = logging.getLogger(__name__)

REVOKED = "the owner token is revoked or expired"
#: the opt-in event type a webhook names among its ``methods``
LIVE_STATUS = "live_status"
#: attempts of one live_status event, and the first delay between them (doubling)
EVENT_ATTEMPTS, EVENT_RETRY = 4, 1.0

Keeper = Callable[[WebhookRecord, str], Awaitable[int | None]]
#: why a valid owner token may receive nothing now (a used-up message quota), or None
Halted = Callable[[TokenRecord], Awaitable[str | None]]


def parse_ident_web_rid(ident: str) -> str:
    """The web_rid a webhook's room identifier names ("" for a room_id or a bad one)."""
    try:
        return parse_ident(ident)[0]
    except DyliveError:
        return ""


def consumer_name(hook_id: int) -> str:
    return f"webhook:{hook_id}"


def new_secret() -> str:
    """A fresh signing secret: ``whsec_`` + the standard base64 of 32 random bytes (a Standard
    Webhooks library keys with those bytes; ``X-Dylive-Signature`` with the whole string)."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def secret_problem(secret: str) -> str | None:
    """Why ``secret`` cannot be a webhook's secret (None when it can): 16 to 256 characters, and
    one that starts with ``whsec_`` must be the standard base64 of a 24 to 64 byte key."""
    if not 16 <= len(secret) <= 256:
        return "secret must be a string of 16 to 256 characters"
    if secret.startswith(SECRET_PREFIX):
        key = whsec_key(secret)
        if key is None or not 24 <= len(key) <= 64:
            return "a whsec_ secret must be whsec_ + the standard base64 of 24 to 64 bytes"
    return None


@dataclass(eq=False)
class _Running:
    """One webhook being delivered: its record, sink, outbox and resolved rooms."""

    hook: WebhookRecord
    sink: WebhookSink
    outbox: Outbox
    rooms: dict[str, int] = field(default_factory=dict)  # ident -> current room_id
    events: asyncio.Lock = field(default_factory=asyncio.Lock)  # live_status sent in order


@dataclass
class WebhookSettings:
    """Service-wide webhook settings (``dylive serve`` options)."""

    allow_private: bool = False
    policy: OutboxPolicy = field(default_factory=OutboxPolicy)
    timeout: float = 10.0
    sync_interval: float = 5.0
    keep_interval: float = 30.0
    max_response: int = 4096


class WebhookService:
    """Runs every registered webhook's outbox; the API and CLI go through it or the store."""

    def __init__(
        self,
        store: EventStore,
        settings: WebhookSettings | None = None,
        *,
        keeper: Keeper | None = None,
        methods_of: Callable[[Sequence[str]], frozenset[str] | None] | None = None,
    ) -> None:
        self.store = store
        self.settings = settings or WebhookSettings()
        self._keeper = keeper
        self._methods_of = methods_of
        self.halted: Halted | None = None
        self.running: dict[int, _Running] = {}
        self._client = Poster(self.settings.timeout)
        self._task: asyncio.Task[None] | None = None
        self._kept_at = 0.0
        self._rotations = 0  # a sync that read the store before a rotation must not undo it
        self._events: set[asyncio.Task[None]] = set()  # live_status sends in flight
        self._event_seq = 0
        # held by sync, register and remove: a sync in the middle of a registration would start
        # a second outbox for the new webhook (before its start positions are set: from seq 0),
        # and one in the middle of a removal would start the removed webhook again
        self._changing = asyncio.Lock()

    # -- lifecycle ------------------------------------------------------------------------------
    async def start(self) -> None:
        await self.sync()
        self._task = asyncio.create_task(self._loop(), name="dylive-webhooks")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        for task in list(self._events):
            task.cancel()
        await asyncio.gather(*self._events, return_exceptions=True)
        await asyncio.gather(*(r.outbox.stop() for r in self.running.values()))
        self.running.clear()
        await self._client.aclose()

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.settings.sync_interval)
            try:
                await self.sync()
            except Exception as exc:  # keep delivering what runs; try again next round
                log.warning("webhooks: sync failed: %r", exc)

    async def sync(self) -> None:
        """Start new webhooks, stop removed ones, apply pause/resume, keep rooms collected."""
        async with self._changing:
            await self._sync()

    async def _sync(self) -> None:
        rotations = self._rotations
        hooks = {h.id: h for h in await self.store.webhooks()}
        now_ms = time.time_ns() // 1_000_000
        active = {
            t.id: t for t in await self.store.list_tokens() if t.active and not t.expired(now_ms)
        }
        halted: dict[int, str | None] = {}
        for hook_id in set(self.running) - set(hooks):
            await self.running.pop(hook_id).outbox.stop()
        for hook in hooks.values():
            run = self.running.get(hook.id)
            if run is None:
                run = self.running[hook.id] = await self._launch(hook)
            if rotations == self._rotations:
                run.hook = hook
                run.sink.rekey(hook.secret, hook.previous_secret, hook.previous_until)
            owner = active.get(hook.token_id)
            if owner is None:  # revoked (or expired) owner: deliver nothing (positions kept)
                if run.outbox.pause_reason != REVOKED:
                    run.outbox.pause(REVOKED)
            elif hook.paused_at:
                if run.outbox.pause_reason != (reason := hook.pause_reason or "paused"):
                    run.outbox.pause(reason)
            elif why := await self._halted(owner, halted):  # e.g. its message quota: kept too
                if run.outbox.pause_reason != why:
                    run.outbox.pause(why)
            elif run.outbox.paused:
                run.outbox.resume()
        if time.monotonic() - self._kept_at >= self.settings.keep_interval:
            self._kept_at = time.monotonic()
            for run in self.running.values():
                await self._keep(run)

    async def _halted(self, token: TokenRecord, seen: dict[int, str | None]) -> str | None:
        """``halted(token)``, asked once per token and sync."""
        if self.halted is None:
            return None
        if token.id not in seen:
            seen[token.id] = await self.halted(token)
        return seen[token.id]

    async def _launch(self, hook: WebhookRecord) -> _Running:
        sink = WebhookSink(
            hook.id,
            hook.url,
            hook.secret,
            self._client,
            allow_private=self.settings.allow_private,
            max_response=self.settings.max_response,
            previous_secret=hook.previous_secret,
            previous_until=hook.previous_until,
        )
        policy = replace(self.settings.policy, batch_size=hook.batch_size, batch_ms=hook.batch_ms)
        run: _Running

        async def rooms() -> set[int]:
            known = set(run.rooms.values())
            known.update(run.outbox.positions())
            return known

        async def paused(reason: str) -> None:
            await self.store.set_webhook_paused(hook.id, int(time.time() * 1000), reason)

        outbox = Outbox(
            self.store,
            consumer_name(hook.id),
            sink,
            rooms=rooms,
            methods=self._methods_of(hook.methods) if self._methods_of else None,
            policy=policy,
            on_pause=paused,
            paused=bool(hook.paused_at),
        )
        if hook.paused_at:
            outbox.pause_reason = hook.pause_reason or "paused"
        run = _Running(hook, sink, outbox)
        await outbox.start()
        await self._keep(run)
        return run

    async def _keep(self, run: _Running) -> None:
        if self._keeper is None:
            return
        changed = False
        for ident in run.hook.rooms:
            try:
                room_id = await self._keeper(run.hook, ident)
            except Exception as exc:
                log.info("webhook %s: room %s: %s", run.hook.id, ident, exc)
                continue
            if room_id and run.rooms.get(ident) != room_id:
                run.rooms[ident] = room_id
                changed = True
        if changed:
            for room_id in run.rooms.values():
                run.outbox.notify(room_id)

    # -- registration ---------------------------------------------------------------------------
    async def check_target(self, url: str) -> None:
        """TargetRefused when the URL is unusable or (unless allowed) not public."""
        await resolve_target(url, allow_private=self.settings.allow_private)

    async def register(self, hook: WebhookRecord, start_rooms: dict[int, int]) -> WebhookRecord:
        """Store a new webhook, set its starting positions, start delivering it."""
        async with self._changing:
            hook_id = await self.store.create_webhook(hook)
            consumer = consumer_name(hook_id)
            await asyncio.gather(  # concurrent: the store's writer commits them together
                *(self.store.set_consumer_position(consumer, r, s) for r, s in start_rooms.items())
            )
            stored = next(h for h in await self.store.webhooks(hook.token_id) if h.id == hook_id)
            self.running[hook_id] = await self._launch(stored)
            return stored

    async def remove(self, hook_id: int) -> bool:
        async with self._changing:
            run = self.running.pop(hook_id, None)
            if run is not None:
                await run.outbox.stop()
            return await self.store.delete_webhook(hook_id)

    async def set_paused(self, hook: WebhookRecord, paused: bool) -> None:
        now = int(time.time() * 1000)
        reason = "paused through the API" if paused else ""
        await self.store.set_webhook_paused(hook.id, now if paused else 0, reason)
        run = self.running.get(hook.id)
        if run is None:
            return
        if paused:
            run.outbox.pause(reason)
        else:
            run.outbox.resume()

    async def rotate(self, hook: WebhookRecord, secret: str, grace_ms: int) -> WebhookRecord:
        """Sign with ``secret`` from now on; the current secret keeps signing too for ``grace_ms``
        (only the newest previous secret is kept: rotating again ends the older one's grace)."""
        until = int(time.time() * 1000) + grace_ms if grace_ms > 0 else 0
        previous = hook.secret if until else ""
        self._rotations += 1
        await self.store.set_webhook_secret(hook.id, secret, previous, until)
        hook = replace(hook, secret=secret, previous_secret=previous, previous_until=until)
        run = self.running.get(hook.id)
        if run is not None:
            run.hook = hook
            run.sink.rekey(secret, previous, until)
        return hook

    def live_status(self, events: list[dict[str, Any]]) -> None:
        """Send followed rooms' live_status events to every webhook that opted in and wants
        the room (by web_rid or by the broadcast's room_id). A new broadcast of a webhook's
        room is delivered from here on whether or not the webhook opted in (its keeper only
        looks every ``keep_interval`` seconds: a short broadcast would be missed)."""
        for event in events:
            for run in self.running.values():
                if event.get("status") == "live":
                    self._moved(run, str(event.get("web_rid", "")), int(event.get("room_id", 0)))
                if LIVE_STATUS not in run.hook.methods or run.outbox.paused:
                    continue
                wanted: set[str | int] = set(run.rooms.values())
                wanted.update(w for i in run.hook.rooms if (w := parse_ident_web_rid(i)))
                if event.get("web_rid") in wanted or event.get("room_id") in wanted:
                    task = asyncio.create_task(self._send_event(run, event))
                    self._events.add(task)
                    task.add_done_callback(self._events.discard)

    def _moved(self, run: _Running, web_rid: str, room_id: int) -> None:
        for ident in run.hook.rooms:
            if web_rid and room_id and parse_ident_web_rid(ident) == web_rid:
                run.rooms[ident] = room_id
                run.outbox.notify(room_id)

    async def _send_event(self, run: _Running, event: dict[str, Any]) -> None:
        self._event_seq += 1
        delivery = f"{event.get('room_id', 0)}-{event.get('status', '')}-{self._event_seq}"
        body = {"event": LIVE_STATUS, **event}
        async with run.events:  # FIFO: events reach the receiver in the order they happened
            await self._send_with_retries(run, body, delivery)

    async def _send_with_retries(self, run: _Running, body: dict[str, Any], delivery: str) -> None:
        for attempt in range(1, EVENT_ATTEMPTS + 1):
            try:
                await run.sink.send_event(body, delivery, attempt)
                return
            except Exception as exc:
                log.info("webhook %s: live_status attempt %s failed: %s", run.hook.id, attempt, exc)
            if attempt < EVENT_ATTEMPTS:
                await asyncio.sleep(EVENT_RETRY * 2 ** (attempt - 1))

    def notify(self, room_id: int) -> None:
        """New messages stored for ``room_id`` (a hint; outboxes also wake on the store)."""
        for run in self.running.values():
            if room_id in run.rooms.values():
                run.outbox.notify(room_id)

    # -- views ----------------------------------------------------------------------------------
    def outbox(self, hook_id: int) -> Outbox | None:
        run = self.running.get(hook_id)
        return run.outbox if run is not None else None

    async def describe(self, hook: WebhookRecord, *, letters: int = 0) -> dict[str, Any]:
        """What the API shows for one webhook (never its secret)."""
        run = self.running.get(hook.id)
        consumer = consumer_name(hook.id)
        data: dict[str, Any] = {
            "id": hook.id,
            "url": hook.url,
            "rooms": list(hook.rooms),
            "methods": list(hook.methods),
            "batch_size": hook.batch_size,
            "batch_ms": hook.batch_ms,
            "created_at": hook.created_at,
            "state": "paused" if hook.paused_at else "active",
            "paused_at": hook.paused_at,
            "pause_reason": hook.pause_reason,
            "previous_secret_until": hook.previous_until if _in_grace(hook) else 0,
            "dead_letters": await self.store.count_dead_letters(consumer),
        }
        if run is not None:
            stats = run.outbox.stats
            data.update(
                state="paused" if run.outbox.paused else "active",
                pause_reason=run.outbox.pause_reason or hook.pause_reason,
                room_ids=sorted(set(run.rooms.values()) | set(run.outbox.positions())),
                positions={str(k): v for k, v in run.outbox.positions().items()},
                lag_seconds=round(stats.lag_seconds(), 3),
                delivered=stats.delivered,
                batches=stats.batches,
                retried=stats.retried,
                dead_lettered=stats.dead_lettered,
                replayed=stats.replayed,
                last_error=stats.last_error,
                last_error_at=stats.last_error_at,
                last_success_at=stats.last_success_at,
                last_status=run.sink.last_status,
            )
        if letters:
            data["dead_letter_list"] = [
                {
                    "id": d.id,
                    "room_id": d.room_id,
                    "first_seq": d.first_seq,
                    "last_seq": d.last_seq,
                    "count": d.count,
                    "error": d.error,
                    "attempts": d.attempts,
                    "created_at": d.created_at,
                }
                for d in await self.store.dead_letters(consumer, letters)
            ]
        return data


def _in_grace(hook: WebhookRecord) -> bool:
    return bool(hook.previous_secret) and hook.previous_until > time.time() * 1000

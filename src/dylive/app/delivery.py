"""Wiring the delivery parts (``dylive.deliver``) into the service: webhooks keep their rooms
collected under their owner token's room limit; the feeds read the live hub."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from dylive.decode import DECODERS
from dylive.decode.methods import method_names
from dylive.deliver.feed import Feeds
from dylive.deliver.webhooks import LIVE_STATUS, WebhookService
from dylive.store import TokenRecord, WebhookRecord

if TYPE_CHECKING:
    from .service import Service

#: The methods the chat endpoint returns and a webhook delivers when none are asked for.
DEFAULT_METHODS = frozenset(
    {
        "WebcastChatMessage",
        "WebcastGiftMessage",
        "WebcastLikeMessage",
        "WebcastMemberMessage",
        "WebcastSocialMessage",
        "WebcastRoomIntroMessage",
        "WebcastEmojiChatMessage",
        "WebcastFansclubMessage",
    }
)


def webhook_methods(names: Sequence[str]) -> frozenset[str] | None:
    """A webhook's method filter: the chat endpoint's default set when empty; None = all.
    ``live_status`` is an event type, not a message method (deliver/webhooks.py)."""
    names = [n for n in names if n != LIVE_STATUS]
    if not names:
        return DEFAULT_METHODS
    return method_names(",".join(names), known=DECODERS)


def attach(svc: Service) -> tuple[WebhookService, Feeds]:
    """The service's webhook runner and feed registry."""

    tokens: list[TokenRecord] = []
    read_at = -1.0

    async def owner(token_id: int) -> TokenRecord | None:
        """The webhook's token; the list is read at most once a second (a webhook of 100 rooms
        keeps them one after another)."""
        nonlocal tokens, read_at
        if time.monotonic() - read_at > 1.0:
            tokens, read_at = await svc.store.list_tokens(), time.monotonic()
        return next((t for t in tokens if t.id == token_id), None)

    async def keep(hook: WebhookRecord, ident: str) -> int | None:
        token = await owner(hook.token_id)
        if token is None or not token.active or token.expired(time.time_ns() // 1_000_000):
            return None  # its webhooks deliver nothing: the rooms are not kept for them
        info, live = await svc.rooms.lookup(ident)
        if not info.room_id:
            return None
        svc.rooms.touch(token.id, token.room_limit, info, live)
        return info.room_id

    webhooks = WebhookService(
        svc.store, svc.config.webhook_settings, keeper=keep, methods_of=webhook_methods
    )
    feeds = Feeds(svc.stream, svc.store, svc.config.feed_settings)
    return webhooks, feeds

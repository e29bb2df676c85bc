"""Polling transport: ``GET /webcast/im/fetch/`` in a loop on cursor/internal_ext.

``fetch_batch(client, upstream, info, identity, position, signing=…, on_refusal=…)`` does one
request (signed with a_bogus, appended last, unless ``signing == "off"``; an empty 200 body is
a refusal, reported to ``on_refusal("im/fetch")`` and retried once with a fresh signature, then
:class:`~dylive.errors.SignatureRefused` is raised). ``poll_stream(...)`` yields one
:class:`~dylive.source.transport.Delivery` per response and waits ``fetch_interval`` ms (bounded
by ``min_interval``/``max_interval`` seconds) before the next request.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import httpx

from dylive.errors import UpstreamError
from dylive.source import urls
from dylive.source.credentials import Identity, cookie_pairs
from dylive.source.refusal import RefusalHook, send_signed
from dylive.source.responses import unbind
from dylive.source.room import RoomInfo
from dylive.source.transport import Delivery, Position
from dylive.wire.frames import Batch, parse_response
from dylive.wire.signing import generate_mstoken, sign_query

log = logging.getLogger(__name__)


def _query(info: RoomInfo, identity: Identity, pos: Position, signing: str) -> str:
    ms_token = cookie_pairs(info.cookie).get("msToken") or generate_mstoken()
    params = urls.fetch_params(
        str(info.room_id),
        info.user_unique_id,
        cursor=pos.cursor,
        internal_ext=pos.internal_ext,
        user_agent=identity.user_agent,
        ms_token=ms_token,
    )
    query = urls.encode_query(params, plus_spaces=True)
    if signing != "off":
        query = sign_query(query, identity.user_agent, generation=signing)
    return query


async def fetch_batch(
    client: httpx.AsyncClient,
    upstream: str,
    info: RoomInfo,
    identity: Identity,
    position: Position,
    *,
    signing: str = "v2",
    on_refusal: RefusalHook | None = None,
) -> Batch:
    """One im/fetch request → the parsed Response."""
    headers = {"User-Agent": identity.user_agent, "Referer": urls.page_url(upstream, info.web_rid)}
    if info.cookie:
        headers["Cookie"] = info.cookie

    async def send(url: str) -> httpx.Response:
        try:
            resp = unbind(await client.get(url, headers=headers))
        except httpx.HTTPError as exc:
            raise UpstreamError(f"im/fetch failed: {exc!r}", room_id=info.room_id) from exc
        if resp.status_code != 200:
            raise UpstreamError(f"im/fetch answered HTTP {resp.status_code}", room_id=info.room_id)
        return resp

    resp = await send_signed(
        "im/fetch",
        lambda: urls.fetch_url(upstream, _query(info, identity, position, signing)),
        send,
        room_id=info.room_id,
        on_refusal=on_refusal,
    )
    return parse_response(resp.content)


async def poll_stream(
    client: httpx.AsyncClient,
    upstream: str,
    info: RoomInfo,
    identity: Identity,
    position: Position,
    *,
    signing: str = "v2",
    min_interval: float = 0.0,
    max_interval: float = 5.0,
    on_refusal: RefusalHook | None = None,
) -> AsyncIterator[Delivery]:
    """Deliveries from successive im/fetch responses, forever (the caller stops iterating)."""
    pos = position
    while True:
        batch = await fetch_batch(
            client, upstream, info, identity, pos, signing=signing, on_refusal=on_refusal
        )
        asked = pos
        pos = Position(batch.cursor or pos.cursor, batch.internal_ext or pos.internal_ext)
        yield Delivery(
            batch.messages,
            pos,
            "poll",
            asked=asked,
            now=batch.now,
            push_server=batch.push_server,
            fetch_interval=batch.fetch_interval,
        )
        wait = batch.fetch_interval / 1000.0 if batch.fetch_interval else 1.0
        await asyncio.sleep(min(max_interval, max(min_interval, wait)))

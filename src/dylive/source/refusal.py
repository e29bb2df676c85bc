"""Douyin's refusal of a signed HTTP request: HTTP 200 with an empty body.

One mechanism for every signed endpoint (web/enter, im/fetch, ranklist/audience): build and sign
the request afresh, send it, and on an empty body report the refusal and try once more with a new
signature before raising :class:`SignatureRefused` (the caller then falls back).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

import httpx

from dylive.errors import SignatureRefused

log = logging.getLogger(__name__)

#: An empty 200 body is retried once with a fresh signature.
REFUSAL_ATTEMPTS = 2

RefusalHook = Callable[[str], None]


async def send_signed(
    endpoint: str,
    signed_url: Callable[[], str],
    send: Callable[[str], Awaitable[httpx.Response]],
    *,
    room_id: int | str | None = None,
    on_refusal: RefusalHook | None = None,
) -> httpx.Response:
    """The first response with a non-empty body; ``signed_url()`` is called once per attempt."""
    for attempt in range(1, REFUSAL_ATTEMPTS + 1):
        resp = await send(signed_url())
        if resp.content.strip():
            return resp
        log.info("room %s: %s refused (empty 200 body), attempt %s", room_id, endpoint, attempt)
        if on_refusal is not None:
            on_refusal(endpoint)
    raise SignatureRefused(
        f"{endpoint} answered an empty body {REFUSAL_ATTEMPTS} times", room_id=room_id
    )

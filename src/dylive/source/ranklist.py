"""Client for Douyin's audience gift ranking: ``GET /webcast/ranklist/audience/`` (protocol §6).

:func:`fetch_audience_ranklist` returns the response's ``data`` object untouched (Douyin's own
field names: ``ranks[]``, ``currency``, ``has_more``…). An empty 200 body (Douyin's refusal of a
signature or of an anonymous visitor) is retried once with a fresh signature, then raises
:class:`SignatureRefused`; transport errors, HTTP errors, non-JSON bodies and a non-zero
``status_code`` raise :class:`UpstreamError`.
"""

from __future__ import annotations

import logging
from typing import Any

import httpx
import orjson

from dylive.errors import UpstreamError
from dylive.source import urls
from dylive.source.credentials import cookie_pairs
from dylive.source.refusal import send_signed
from dylive.source.responses import unbind
from dylive.wire.signing import generate_mstoken, sign_query

log = logging.getLogger(__name__)

RANKLIST_PATH = "/webcast/ranklist/audience/"


def ranklist_params(
    room_id: int | str,
    anchor_id: int | str,
    sec_anchor_id: str,
    *,
    user_agent: str,
    ms_token: str,
) -> dict[str, str]:
    """The ranklist query (EVL model order), without a_bogus."""
    return {
        "aid": urls.AID,
        "app_name": "douyin_web",
        "live_id": "1",
        "device_platform": "web",
        "language": "zh-CN",
        "enter_from": "web_live",
        "cookie_enabled": "true",
        "screen_width": str(urls.SCREEN[0]),
        "screen_height": str(urls.SCREEN[1]),
        "browser_language": "zh-CN",
        "browser_platform": "Win32",
        "browser_name": "Chrome",
        "browser_version": urls.chrome_version(user_agent),
        "webcast_sdk_version": "2450",
        "room_id": str(room_id),
        "anchor_id": str(anchor_id),
        "sec_anchor_id": sec_anchor_id,
        "ignoreToast": "true",
        "rank_type": "30",
        "update_scene": "rank_message",
        "msToken": ms_token,
    }


async def fetch_audience_ranklist(
    client: httpx.AsyncClient,
    *,
    upstream: str,
    room_id: int | str,
    anchor_id: int | str = "",
    sec_anchor_id: str = "",
    web_rid: str = "",
    user_agent: str,
    cookie: str = "",
    signing: str = "v2",
) -> dict[str, Any]:
    """The ``data`` object of the ranklist response (see module docstring for errors).

    An empty 200 body is retried once with a fresh signature (and msToken, unless the cookie
    carries one) before :class:`SignatureRefused` is raised.
    """
    headers = {
        "User-Agent": user_agent,
        "Referer": urls.page_url(upstream, web_rid) if web_rid else upstream,
        "Accept": "application/json, text/plain, */*",
    }
    if cookie:
        headers["Cookie"] = cookie

    def signed_url() -> str:
        ms_token = cookie_pairs(cookie).get("msToken") or generate_mstoken()
        params = ranklist_params(
            room_id, anchor_id, sec_anchor_id, user_agent=user_agent, ms_token=ms_token
        )
        query = urls.encode_query(params)
        if signing != "off":
            query = sign_query(query, user_agent, generation=signing)
        return urls.join(upstream, RANKLIST_PATH) + "?" + query

    async def send(url: str) -> httpx.Response:
        try:
            resp = unbind(await client.get(url, headers=headers))
        except httpx.HTTPError as exc:
            raise UpstreamError(f"ranklist unreachable: {exc}", room_id=room_id) from exc
        if resp.status_code != 200:
            raise UpstreamError(f"ranklist answered HTTP {resp.status_code}", room_id=room_id)
        return resp

    resp = await send_signed("ranklist", signed_url, send, room_id=room_id)
    return _data(resp.content, room_id)


def _data(content: bytes, room_id: int | str) -> dict[str, Any]:
    """The ``data`` object of a non-empty ranklist body."""
    try:
        body = orjson.loads(content)
    except orjson.JSONDecodeError as exc:
        raise UpstreamError(f"ranklist answered non-JSON: {exc}", room_id=room_id) from exc
    if not isinstance(body, dict) or body.get("status_code", 0) != 0:
        code = body.get("status_code") if isinstance(body, dict) else None
        raise UpstreamError(f"ranklist status_code {code}", room_id=room_id)
    data = body.get("data")
    if not isinstance(data, dict):
        raise UpstreamError("ranklist response has no data object", room_id=room_id)
    return data

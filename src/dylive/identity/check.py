"""Is a cookie logged in? Asked of the room page, the way the web page knows it.

The live page carries the visitor block ``odin`` in its script chunks: ``user_is_login`` is 1
for a logged-in cookie (and ``user_id`` its uid), 0 for a guest.
"""

from __future__ import annotations

import re

import httpx

from dylive.source import urls
from dylive.source.credentials import Identity, cookie_pairs, merge_cookies, set_cookies

_LOGIN = re.compile(r'user_is_login\\?"\s*:\s*(\d)')
_FALLBACK_ROOM = "615189692839"


async def login_state(
    client: httpx.AsyncClient, upstream: str, identity: Identity, web_rid: str = ""
) -> bool | None:
    """True / False from the room page's ``user_is_login``; None when the page does not say."""
    cookie = identity.cookie
    headers = {"User-Agent": identity.user_agent}
    if "__ac_nonce" not in cookie_pairs(cookie) or "ttwid" not in cookie_pairs(cookie):
        home = await client.get(urls.join(upstream, "/"), headers=headers | {"Cookie": cookie})
        cookie = merge_cookies(cookie, set_cookies(home.headers.multi_items()))
    page = urls.page_url(upstream, web_rid or _FALLBACK_ROOM)
    resp = await client.get(page, headers=headers | {"Cookie": cookie})
    m = _LOGIN.search(resp.text)
    return None if m is None else m.group(1) == "1"

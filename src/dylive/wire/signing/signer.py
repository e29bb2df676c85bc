"""Production wrappers: draw clocks from ``time`` and randomness from ``secrets``.

The distributions follow the genuine browser values of request-signing.md §2.1 and §3.1.
"""

from __future__ import annotations

import secrets
import time
from urllib.parse import quote

from .abogus_v1 import a_bogus_v1
from .abogus_v2 import a_bogus_v2

__all__ = [
    "LIVE_FLAG_E",
    "LIVE_PAGE_ID",
    "platform_of",
    "screen_string",
    "sign_query",
    "window_string",
]

LIVE_PAGE_ID = 7571
"""page_id of live.douyin.com in every genuine capture."""
LIVE_FLAG_E = 14
"""v2 flag byte E seen on live.douyin.com web/enter."""
_TASKBAR = 40
_BROWSER_CHROME = 87


def platform_of(user_agent: str) -> str:
    """``navigator.platform`` a browser with this UA reports (Win32, MacIntel, Linux …)."""
    if "Windows" in user_agent:
        return "Win32"
    if "Macintosh" in user_agent or "Mac OS X" in user_agent:
        return "MacIntel"
    if "Android" in user_agent:
        return "Linux armv8l"
    if "Linux" in user_agent:
        return "Linux x86_64"
    return "Win32"


def _geometry(screen: tuple[int, int]) -> tuple[int, int, int, int]:
    width, height = screen
    avail_h = max(1, height - _TASKBAR)
    inner_h = max(1, avail_h - _BROWSER_CHROME)
    return width, avail_h, width, inner_h


def screen_string(screen: tuple[int, int], user_agent: str) -> str:
    """v2 ``W2`` for a maximised browser window on a ``screen = (width, height)`` display:
    innerW|innerH|outerW|outerH|availW|availH|screenW|screenH|platform."""
    width, height = screen
    avail_w, avail_h, inner_w, inner_h = _geometry(screen)
    return (
        f"{inner_w}|{inner_h}|{avail_w}|{avail_h}|{avail_w}|{avail_h}|{width}|{height}|"
        f"{platform_of(user_agent)}"
    )


def window_string(screen: tuple[int, int], user_agent: str) -> str:
    """v1 ``W`` (17 fields) for a maximised browser window on a ``screen = (width, height)``."""
    width, height = screen
    avail_w, avail_h, inner_w, inner_h = _geometry(screen)
    return (
        f"{inner_w}|{inner_h}|{avail_w}|{avail_h}|0|0|0|0|{avail_w}|{avail_h}|{width}|{height}|"
        f"{inner_w}|{inner_h}|24|24|{platform_of(user_agent)}"
    )


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def _sign_v1(query: str, body: str, user_agent: str, screen: tuple[int, int], page_id: int) -> str:
    t_a = _now_ms()
    rnd = secrets.randbelow
    return a_bogus_v1(
        query,
        body,
        user_agent,
        window=window_string(screen, user_agent),
        t_a_ms=t_a,
        t_b_ms=t_a - 2 - rnd(2),
        r=(rnd(10000), rnd(10000), rnd(10000)),
        page_id=page_id,
    )


def _sign_v2(query: str, body: str, user_agent: str, screen: tuple[int, int], page_id: int) -> str:
    rnd = secrets.randbelow
    bits = secrets.randbits
    t_sign = _now_ms()
    w2 = screen_string(screen, user_agent)
    groups = (51 + len(w2) + len(f"{(t_sign + 3) & 255},")) // 3
    return a_bogus_v2(
        query,
        body,
        user_agent,
        screen=w2,
        t_sign_ms=t_sign,
        t_start_ms=t_sign - rnd(2),
        t_ink_ms=t_sign - 1,
        t_period_ms=t_sign,
        flag_e=LIVE_FLAG_E,
        page_id=page_id,
        noise_a=(bits(8), bits(8)),
        noise_b=(rnd(240), 178 | (bits(8) & 77)),
        prefix=(bits(8), rnd(40)),
        spread_noise=[rnd(1000) & 255 for _ in range(groups)],
    )


def sign_query(
    query: str,
    user_agent: str,
    *,
    generation: str = "v2",
    body: str = "",
    screen: tuple[int, int] = (1920, 1080),
    page_id: int = LIVE_PAGE_ID,
) -> str:
    """Return ``query + "&a_bogus=" + <percent-encoded value>`` (no ``&`` if ``query`` is empty).

    ``query`` must be the exact query string that will be sent (no ``?``, parameters in their
    final order, msToken included). ``generation`` is ``"v2"`` (what browsers send since
    2024-10; E = 14, event (0,0,0,0,1)) or ``"v1"`` (bdms 1.0.1.7 shape). ``screen`` is the
    simulated display size in pixels. Clocks come from ``time``, random inputs from
    ``secrets`` with the genuine distributions.

    Callers must send exactly ``user_agent`` as the request's User-Agent header (and ``body``
    as its body): both are hashed into the signature.
    """
    if generation == "v2":
        value = _sign_v2(query, body, user_agent, screen, page_id)
    elif generation == "v1":
        value = _sign_v1(query, body, user_agent, screen, page_id)
    else:
        raise ValueError(f"generation must be 'v1' or 'v2', not {generation!r}")
    sep = "&" if query else ""
    return f"{query}{sep}a_bogus={quote(value, safe='')}"

"""Who the collector pretends to be: cookies, User-Agent and proxy, per room.

- :class:`Identity` — frozen (cookie header value, user_agent, proxy).
- :func:`load_cookie` — a cookie given as a ``k=v; …`` string, a raw ``Cookie: …`` header line, or
  the path of a file holding either of those or a Netscape ``cookies.txt``.
- :func:`cookie_pairs` / :func:`join_cookies` / :func:`merge_cookies` — cookie header arithmetic.
- :func:`set_cookies` — ``name → value`` of the ``Set-Cookie`` headers of a response.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from dylive import settings
from dylive.errors import DyliveError

__all__ = [
    "CookieError",
    "Identity",
    "cookie_pairs",
    "join_cookies",
    "load_cookie",
    "merge_cookies",
    "parse_cookie_text",
    "set_cookies",
]


class CookieError(DyliveError, ValueError):
    """A cookie value or file that cannot be understood."""


@dataclass(frozen=True, slots=True)
class Identity:
    """Cookie header value (may be empty), User-Agent and optional proxy URL."""

    cookie: str = ""
    user_agent: str = settings.DEFAULT_USER_AGENT
    proxy: str | None = None

    @classmethod
    def build(
        cls, *, cookie: str | None = None, user_agent: str | None = None, proxy: str | None = None
    ) -> Identity:
        """From explicit values, else the DYLIVE_COOKIE / DYLIVE_USER_AGENT / DYLIVE_PROXY settings."""
        raw_cookie = settings.get("cookie") if cookie is None else cookie
        ua = user_agent or settings.get("user_agent")
        px = settings.get("proxy") if proxy is None else proxy
        return cls(cookie=load_cookie(raw_cookie), user_agent=ua, proxy=px or None)


def cookie_pairs(header: str) -> dict[str, str]:
    """``{"a": "1", "b": "2"}`` from ``"a=1; b=2"`` (later duplicates win)."""
    out: dict[str, str] = {}
    for part in header.split(";"):
        name, sep, value = part.strip().partition("=")
        if sep and name.strip():
            out[name.strip()] = value.strip()
    return out


def join_cookies(pairs: Mapping[str, str]) -> str:
    return "; ".join(f"{k}={v}" for k, v in pairs.items())


def merge_cookies(header: str, extra: Mapping[str, str], *, override: bool = False) -> str:
    """Add ``extra`` cookies to ``header``; the user's own values win unless ``override``."""
    pairs = cookie_pairs(header)
    for k, v in extra.items():
        if override or k not in pairs:
            pairs[k] = v
    return join_cookies(pairs)


def _netscape(lines: Iterable[str]) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for line in lines:
        line = line.strip()
        if line.startswith("#HttpOnly_"):
            line = line.removeprefix("#HttpOnly_")
        elif not line or line.startswith("#"):
            continue
        fields = line.split("\t")
        if len(fields) < 7:
            raise CookieError(f"not a Netscape cookie line (7 tab-separated fields): {line[:60]!r}")
        pairs[fields[5]] = fields[6]
    return pairs


def parse_cookie_text(text: str) -> str:
    """Cookie header value from file contents: Netscape cookies.txt, ``Cookie: …`` or ``k=v; …``."""
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if not lines:
        return ""
    first = lines[0].strip()
    if first.lower().startswith("cookie:"):
        return join_cookies(cookie_pairs(first.split(":", 1)[1]))
    if "\t" in text or first.startswith("# Netscape") or first.startswith("# HTTP Cookie"):
        return join_cookies(_netscape(lines))
    pairs = cookie_pairs(" ".join(lines))
    if not pairs:
        raise CookieError("cookie text has no name=value pairs")
    return join_cookies(pairs)


def load_cookie(value: str) -> str:
    """A cookie header value from a string, a ``Cookie:`` line, or a path to a cookie file."""
    value = value.strip()
    if not value:
        return ""
    looks_like_path = "=" not in value or value.startswith(("/", "~", "./"))
    if looks_like_path:
        path = Path(os.path.expanduser(value))
        if not path.is_file():
            raise CookieError(f"cookie file not found: {value}")
        return parse_cookie_text(path.read_text(encoding="utf-8"))
    return parse_cookie_text(value)


def set_cookies(headers: Iterable[tuple[str, str]]) -> dict[str, str]:
    """``name → value`` of every ``Set-Cookie`` in ``headers`` (attributes dropped)."""
    out: dict[str, str] = {}
    for key, value in headers:
        if key.lower() != "set-cookie":
            continue
        name, sep, rest = value.partition("=")
        if sep and name.strip():
            out[name.strip()] = rest.split(";", 1)[0].strip()
    return out

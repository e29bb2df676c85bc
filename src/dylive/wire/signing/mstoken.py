"""msToken: random format-valid values and extraction from a Cookie header (request-signing.md §9).

Genuine msToken values come from ``mssdk.bytedance.com/web/r/token``; public projects send random
ones and none reports rejections for that. So only the format is meaningful offline.
"""

from __future__ import annotations

import re
import secrets

__all__ = ["generate_mstoken", "is_valid_mstoken", "mstoken_from_cookie"]

_URLSAFE = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_FORMAT = re.compile(r"[A-Za-z0-9_\-+]{16,400}={0,2}")


def generate_mstoken(length: int = 184) -> str:
    """A random msToken of ``length`` characters shaped like the genuine 184-char ones:
    ``[A-Za-z0-9_-]`` followed by ``==`` (CSPRNG)."""
    if length < 18:
        raise ValueError("msToken length must be at least 18")
    return "".join(secrets.choice(_URLSAFE) for _ in range(length - 2)) + "=="


def is_valid_mstoken(value: str) -> bool:
    """Format check: 16..400 characters of ``[A-Za-z0-9_+-]`` plus up to two ``=``."""
    return _FORMAT.fullmatch(value) is not None


def mstoken_from_cookie(cookie_header: str) -> str | None:
    """The ``msToken`` value of a ``Cookie`` request header, or None if absent or empty."""
    for part in cookie_header.split(";"):
        name, sep, value = part.strip().partition("=")
        if sep and name.strip() == "msToken":
            value = value.strip()
            if len(value) >= 2 and value[0] == value[-1] == '"':
                value = value[1:-1]
            return value or None
    return None

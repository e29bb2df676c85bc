"""Numbers read from text (HTTP parameters, headers, upstream fields): ASCII digits, bounded.

``str.isdigit`` accepts ``²`` and full-width digits (``int('²')`` then raises), and ``int()``
refuses more than 4,300 digits with a ValueError. Every number dylive reads from outside goes
through :func:`ascii_uint` instead: ASCII digits only, at most ``max_digits`` of them.
"""

from __future__ import annotations

I64_MAX = (1 << 63) - 1
U64_MAX = (1 << 64) - 1


def is_ascii_digits(text: str, max_digits: int = 20) -> bool:
    """True when ``text`` is 1..``max_digits`` ASCII digits."""
    return 0 < len(text) <= max_digits and text.isascii() and text.isdigit()


def ascii_uint(text: str, *, max_digits: int = 20) -> int | None:
    """The integer ``text`` spells in 1..``max_digits`` ASCII digits, else None."""
    return int(text) if is_ascii_digits(text, max_digits) else None

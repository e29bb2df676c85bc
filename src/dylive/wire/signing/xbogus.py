"""X-Bogus, the older query signature (TikTok and pre-2024 Douyin web): request-signing.md §7."""

from __future__ import annotations

import hashlib
import struct

from .primitives import S0, S2, latin1, rc4s, xor_all

__all__ = ["x_bogus"]

_UA_KEY = b"\x00\x01\x0c"
_CANVAS = 536919696  # 0x2000BE90
_E = hashlib.md5(hashlib.md5(b"").digest()).digest()


def x_bogus(query: str, user_agent: str, *, ts: int) -> str:
    """X-Bogus (28 chars) of ``query`` for ``user_agent`` at unix time ``ts`` (seconds).

    Unlike F2's port this hashes any query or UA as text, whatever its length.
    Append to the URL as ``&X-Bogus=<value>`` (the alphabet needs no percent-encoding).
    """
    ua_b64 = S0.encode(rc4s(_UA_KEY, latin1(user_agent)))
    u = hashlib.md5(ua_b64.encode("ascii")).digest()
    q = hashlib.md5(hashlib.md5(query.encode("utf-8")).digest()).digest()
    block = bytes((64, 0, 1, 12, q[14], q[15], _E[14], _E[15], u[14], u[15]))
    block += struct.pack(">II", ts & 0xFFFFFFFF, _CANVAS)
    block += bytes((xor_all(block),))
    return S2.encode(b"\x02\xff" + rc4s(b"\xff", block), pad=False)

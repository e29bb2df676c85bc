"""The ``__ac_nonce`` challenge and the short ``__ac_signature`` cookie: request-signing.md §8.

This is the 47-character form of one public implementation (SAER); genuine browsers send a
~150-character value. Whether Douyin still accepts the short form is unknown.
"""

from __future__ import annotations

import secrets

__all__ = ["AC_PREFIX", "ac_signature", "new_ac_nonce", "verify_ac_signature"]

AC_PREFIX = "_02B4Z6wo00f01"
_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-."
_M32 = 0xFFFFFFFF


def _h1(text: str, iv: int) -> int:
    k = iv
    for ch in text:
        k = ((k ^ ord(ch)) * 65599) & _M32
    return k


def _h3(text: str) -> int:
    k = 0
    for ch in text:
        k = (k * 65599 + ord(ch)) & _M32
    return k


def _e5(v: int) -> str:
    a = _ALPHABET
    return a[(v >> 24) & 63] + a[(v >> 18) & 63] + a[(v >> 12) & 63] + a[(v >> 6) & 63] + a[v & 63]


def new_ac_nonce() -> str:
    """A fresh ``__ac_nonce`` value: 21 lowercase hex characters (CSPRNG)."""
    return secrets.token_hex(11)[:21]


def ac_signature(site: str, nonce: str, user_agent: str, *, ts: int) -> str:
    """``__ac_signature`` (47 chars) for the challenge ``nonce`` at unix time ``ts`` (seconds).

    ``site`` is the host with a trailing slash as the challenge script sees it, e.g.
    ``"www.douyin.com/"`` or ``"live.douyin.com/"``. Always pass ``ts`` explicitly.
    """
    a = _h1(site, _h1(str(ts), 0)) % 65521
    b = (8240 << 32) | ((ts ^ (a * 65521)) & _M32)
    c = _h1(str(b), 0)
    e = b >> 32
    g = 582085784 ^ b
    j = ((_h1(user_agent, c) % 65521) << 16) | (_h1(nonce, c) % 65521)
    n = (
        AC_PREFIX
        + _e5(b >> 2)
        + _e5((b << 28) | (e >> 4))
        + _e5((e << 26) | (g >> 6))
        + _ALPHABET[g & 63]
        + _e5(j >> 2)
        + _e5((j << 28) | ((524576 ^ b) >> 4))
        + _e5(a)
    )
    return n + f"{_h3(n) & 0xFF:02x}"


def verify_ac_signature(
    signature: str, site: str, nonce: str, user_agent: str, *, now: int, max_skew_s: int = 300
) -> bool:
    """True if ``signature`` equals :func:`ac_signature` for some ts within ``now ± max_skew_s``.

    Cheap pre-checks (prefix, length, trailing hex) run first; then the time window is searched.
    """
    if len(signature) != 47 or not signature.startswith(AC_PREFIX):
        return False
    body = signature[:-2]
    if f"{_h3(body) & 0xFF:02x}" != signature[-2:]:
        return False
    return any(
        ac_signature(site, nonce, user_agent, ts=ts) == signature
        for ts in range(now - max_skew_s, now + max_skew_s + 1)
    )

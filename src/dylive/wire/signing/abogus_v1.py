"""a_bogus, first generation (bdms 1.0.1.5/1.0.1.7, salt ``cus``): request-signing.md §2, §4.

:func:`a_bogus_v1` is a pure function of its inputs; :func:`decode_a_bogus_v1` reverses the
encoding and :func:`check_hashes_v1` compares the embedded hash bytes with a request.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from .primitives import S3, S4, latin1, mix, rc4s, sm3, sm3sm3, unmix, xor_all

__all__ = [
    "V1_SEEDS",
    "V1Decoded",
    "a_bogus_v1",
    "check_hashes_v1",
    "decode_a_bogus_v1",
    "v1_ua_hash",
]

SALT = "cus"
V1_SEEDS: tuple[tuple[int, int], tuple[int, int], tuple[int, int]] = ((3, 45), (1, 0), (1, 7))
"""Prefix seed pairs of genuine bdms 1.0.1.7 (the first pair identifies v1)."""

_KEY_Y = b"y"

# Header positions of the big-endian bytes of each 32-bit quantity (most significant first).
_POS_TA = (1, 11, 21, 26)
_POS_TB = (30, 31, 33, 34)
_POS_PAGE = (2, 9, 13, 14)
_POS_AID = (24, 32, 6, 17)
_POS_A0 = (3, 12, 22, 27)
_POS_A1 = (23, 28, 4, 15)
_POS_A2 = (5, 16, 25, 29)


@lru_cache(maxsize=256)
def _body_hash(body: str) -> bytes:
    return sm3sm3(body + SALT)


@lru_cache(maxsize=256)
def v1_ua_hash(user_agent: str, a1: int, a2: int, *, ua_padding: bool = True) -> bytes:
    """``hU = SM3(base64_S3(RC4s([a1>>8, a1&255, a2&255], UA)))`` (§2.2 step 2); memoised."""
    key = bytes(((a1 >> 8) & 255, a1 & 255, a2 & 255))
    ua_b64 = S3.encode(rc4s(key, latin1(user_agent)), pad=ua_padding)
    return sm3(ua_b64.encode("ascii"))


def _put32(h: list[int], positions: Sequence[int], value: int) -> None:
    for shift, pos in zip((24, 16, 8, 0), positions, strict=True):
        h[pos] = (value >> shift) & 255


def _get32(h: Sequence[int], positions: Sequence[int]) -> int:
    return (
        (h[positions[0]] << 24) | (h[positions[1]] << 16) | (h[positions[2]] << 8) | h[positions[3]]
    )


def a_bogus_v1(
    query: str,
    body: str,
    user_agent: str,
    *,
    window: str,
    t_a_ms: int,
    t_b_ms: int,
    r: tuple[int, int, int],
    args: tuple[int, int, int] = (0, 1, 14),
    page_id: int = 7571,
    aid: int = 6383,
    seeds: Sequence[tuple[int, int]] = V1_SEEDS,
    ua_padding: bool = True,
    clock_hi: bool = True,
    jww_output: bool = False,
) -> str:
    """a_bogus v1 of a request (raw value; percent-encode it before appending to the URL).

    - ``query``: the query string exactly as sent, without ``a_bogus`` and without ``?``.
    - ``body``: the request body (``""`` for GET).
    - ``user_agent``: the User-Agent header value that will be sent with the request.
    - ``window``: the 17-field ``|``-joined window fingerprint string ``W`` of §2.1, e.g.
      ``"164|569|1280|690|0|25|0|0|1280|690|1280|800|164|569|24|24|MacIntel"``.
    - ``t_a_ms``, ``t_b_ms``: the two millisecond clocks (genuine ``t_b = t_a - 2..3``).
    - ``r``: the three random integers (R1, R2, R3), genuine 0..9999; any 16-bit value encodes.
    - ``args``: (a0, a1, a2); ``page_id``, ``aid``: as in §2.1.
    - ``seeds``: three (s0, s1) seed pairs of the 12-byte prefix.

    Compatibility switches for public re-implementations (§2.3), all off for genuine output:
    ``ua_padding=False`` drops ``=`` from the UA base64 (JWW), ``clock_hi=False`` zeroes the
    hi32/hi40 clock bytes (JWW), ``jww_output=True`` strips the output padding and appends
    one ``=``.
    """
    a0, a1, a2 = args
    h_q = sm3sm3(query + SALT)
    h_b = _body_hash(body)
    h_u = v1_ua_hash(user_agent, a1, a2, ua_padding=ua_padding)
    w_bytes = latin1(window)
    w_len = len(w_bytes)

    h = [0] * 44
    h[0] = 44
    h[35] = 3
    _put32(h, _POS_TA, t_a_ms)
    _put32(h, _POS_TB, t_b_ms)
    _put32(h, _POS_PAGE, page_id)
    _put32(h, _POS_AID, aid)
    _put32(h, _POS_A0, a0)
    _put32(h, _POS_A1, a1)
    _put32(h, _POS_A2, a2)
    h[7] = h_q[21]
    h[18] = h_q[22]
    h[8] = h_b[21]
    h[19] = h_b[22]
    h[10] = h_u[23]
    h[20] = h_u[24]
    if clock_hi:
        h[36] = (t_b_ms >> 32) & 255
        h[37] = (t_b_ms >> 40) & 255
        h[38] = (t_a_ms >> 32) & 255
        h[39] = (t_a_ms >> 40) & 255
    h[40] = w_len & 255
    h[41] = (w_len >> 8) & 255

    payload = bytes(h) + w_bytes + bytes((xor_all(h),))
    prefix = b"".join(
        mix(rv & 255, (rv >> 8) & 255, s0, s1) for rv, (s0, s1) in zip(r, seeds, strict=True)
    )
    out = S4.encode(prefix + rc4s(_KEY_Y, payload), pad=not jww_output)
    return out + "=" if jww_output else out


@dataclass(frozen=True, slots=True)
class V1Decoded:
    """Fields recovered from an a_bogus v1 value (§4)."""

    r: tuple[int, int, int]
    seeds: tuple[tuple[int, int], tuple[int, int], tuple[int, int]]
    header: bytes
    window: str
    t_a_ms: int
    t_b_ms: int
    args: tuple[int, int, int]
    page_id: int
    aid: int
    query_hash: tuple[int, int]
    body_hash: tuple[int, int]
    ua_hash: tuple[int, int]


def decode_a_bogus_v1(value: str) -> V1Decoded:
    """Decode an a_bogus v1 value (raw, not percent-encoded); ValueError if malformed.

    Checks the structure §4 lists: seeds (3, 45) in the first group, header bytes 0 = 44 and
    35 = 3, the window length against the data length, and the XOR checksum.
    """
    raw = S4.decode(value)
    if len(raw) < 12 + 45:
        raise ValueError("too short for a_bogus v1")
    groups = [unmix(raw[i : i + 4]) for i in (0, 4, 8)]
    if (groups[0][2], groups[0][3]) != V1_SEEDS[0]:
        raise ValueError("not a_bogus v1 (prefix seeds)")
    plain = rc4s(_KEY_Y, raw[12:])
    h = plain[:44]
    if h[0] != 44 or h[35] != 3:
        raise ValueError("bad v1 header constants")
    w_len = h[40] | (h[41] << 8)
    if len(plain) != 45 + w_len:
        raise ValueError("v1 window length does not match")
    if xor_all(h) != plain[-1]:
        raise ValueError("v1 checksum mismatch")
    t_a = _get32(h, _POS_TA) | (h[38] << 32) | (h[39] << 40)
    t_b = _get32(h, _POS_TB) | (h[36] << 32) | (h[37] << 40)
    return V1Decoded(
        r=(
            groups[0][0] | (groups[0][1] << 8),
            groups[1][0] | (groups[1][1] << 8),
            groups[2][0] | (groups[2][1] << 8),
        ),
        seeds=(
            (groups[0][2], groups[0][3]),
            (groups[1][2], groups[1][3]),
            (groups[2][2], groups[2][3]),
        ),
        header=bytes(h),
        window=plain[44:-1].decode("latin-1"),
        t_a_ms=t_a,
        t_b_ms=t_b,
        args=(_get32(h, _POS_A0), _get32(h, _POS_A1), _get32(h, _POS_A2)),
        page_id=_get32(h, _POS_PAGE),
        aid=_get32(h, _POS_AID),
        query_hash=(h[7], h[18]),
        body_hash=(h[8], h[19]),
        ua_hash=(h[10], h[20]),
    )


def check_hashes_v1(decoded: V1Decoded, query: str, body: str, user_agent: str) -> str | None:
    """Compare the embedded hash bytes with a request; None if they match, else a reason.

    The UA hash is accepted with or without ``=`` in the UA base64 (JWW omits it).
    """
    h_q = sm3sm3(query + SALT)
    if decoded.query_hash != (h_q[21], h_q[22]):
        return "a_bogus query hash mismatch"
    h_b = _body_hash(body)
    if decoded.body_hash != (h_b[21], h_b[22]):
        return "a_bogus body hash mismatch"
    _, a1, a2 = decoded.args
    for padded in (True, False):
        h_u = v1_ua_hash(user_agent, a1, a2, ua_padding=padded)
        if decoded.ua_hash == (h_u[23], h_u[24]):
            return None
    return "a_bogus user-agent hash mismatch"

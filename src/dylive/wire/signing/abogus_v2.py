"""a_bogus, second generation (bdms 1.0.1.19-fix.01, salt ``dhzx``): request-signing.md §3, §4.

:func:`a_bogus_v2` is a pure function of its inputs; :func:`decode_a_bogus_v2` reverses the
encoding and :func:`check_hashes_v2` compares the embedded hash bytes with a request.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from .primitives import S3, S4, latin1, mix, rc4m, sm3, sm3sm3, unmix, xor_all

__all__ = [
    "PERIOD_EPOCH_MS",
    "PERIOD_MS",
    "V2Decoded",
    "a_bogus_v2",
    "check_hashes_v2",
    "decode_a_bogus_v2",
    "v2_ua_hash",
]

SALT = "dhzx"
PERIOD_EPOCH_MS = 1721836800000
PERIOD_MS = 1209600000
_KEY_211 = b"\xd3"
_PREFIX_SEEDS = (3, 82)
_NOISE_SEEDS = (1, 0)

# Header order: U-field numbers of the 50 header bytes (§3.2 step 4).
_ORDER = (
    34, 44, 56, 61, 73, 29, 70, 45, 35, 49, 38, 66, 51, 68, 28, 48, 64, 47, 30, 71, 26, 55, 31,
    69, 59, 40, 62, 63, 27, 72, 41, 74, 57, 52, 42, 39, 33, 67, 53, 43, 65, 46, 36, 24, 60, 32,
    79, 80, 84, 85,
)  # fmt: skip
# Where each U field sits in the header (inverse of _ORDER).
_AT = {u: i for i, u in enumerate(_ORDER)}


@lru_cache(maxsize=256)
def _body_hash(body: str) -> bytes:
    return sm3sm3(body + SALT)


@lru_cache(maxsize=256)
def v2_ua_hash(user_agent: str, flag_e: int) -> bytes:
    """``hU = SM3(base64_S3(RC4m([0, 1, E], UA)))`` (§3.2 step 2); memoised."""
    ua_b64 = S3.encode(rc4m(bytes((0, 1, flag_e & 255)), latin1(user_agent)))
    return sm3(ua_b64.encode("ascii"))


def _le6(t: int) -> list[int]:
    return [(t >> s) & 255 for s in (0, 8, 16, 24, 32, 40)]


def _period(t_period_ms: int) -> int:
    delta = t_period_ms - PERIOD_EPOCH_MS
    q = abs(delta) // PERIOD_MS
    return q if delta >= 0 else -q  # JS Math.trunc


def a_bogus_v2(
    query: str,
    body: str,
    user_agent: str,
    *,
    screen: str,
    t_sign_ms: int,
    t_start_ms: int,
    t_ink_ms: int,
    t_period_ms: int,
    flag_e: int,
    env_mask: int = 1,
    event: Sequence[int] = (0, 0, 0, 0, 1),
    page_id: int = 7571,
    aid: int = 6383,
    noise_a: tuple[int, int],
    noise_b: tuple[int, int],
    prefix: tuple[int, int],
    spread_noise: Sequence[int] | int,
    u27: int = 6,
    saer_tail: bool = False,
) -> str:
    """a_bogus v2 of a request (raw value; percent-encode it before appending to the URL).

    - ``query``, ``body``, ``user_agent``: as for v1 (query exactly as sent, without
      ``a_bogus``; body ``""`` for GET; the UA that goes in the header).
    - ``screen``: the 9-field ``|``-joined screen string ``W2`` of §3.1, e.g.
      ``"1800|1431|2560|1552|2560|1552|2560|1600|Win32"``.
    - ``t_sign_ms``, ``t_start_ms``, ``t_ink_ms``, ``t_period_ms``: the four clocks (genuine:
      start = sign - 0..1, ink = sign - 1, period = sign).
    - ``flag_e``: E, the flag byte that is also the third UA key byte (genuine 0, 8, 14).
    - ``env_mask`` (16 bits), ``event`` (ev0..ev4), ``page_id``, ``aid``: §3.1.
    - ``noise_a``, ``noise_b``, ``prefix``: (lo, hi) byte pairs of random noise.
    - ``spread_noise``: one noise byte per 3-byte group of the payload (a sequence at least as
      long as the number of groups), or one int used for every group.
    - ``u27``: the constant field U27 (6; one genuine value has 5).
    - ``saer_tail=True``: SAER's tail rule (payload cut or zero-padded to 96 bytes, 32
      groups) instead of the genuine one; for compatibility testing only.
    """
    h_q = sm3sm3(query + SALT)
    h_b = _body_hash(body)
    h_u = v2_ua_hash(user_agent, flag_e)
    w_bytes = latin1(screen)
    t_bytes = f"{(t_sign_ms + 3) & 255},".encode("ascii")
    w_len = len(w_bytes)
    t_len = len(t_bytes)

    u = [0] * 86
    u[24] = 41
    u[26] = _period(t_period_ms)
    u[27] = u27
    u[28] = t_sign_ms - t_start_ms + 3
    u[29:35] = _le6(t_sign_ms)
    u[35] = env_mask
    u[36] = env_mask >> 8
    u[38] = event[4]
    u[39] = event[4] >> 8
    u[40:44] = event[:4]
    u[44:48] = (flag_e, flag_e >> 8, flag_e >> 16, flag_e >> 24)
    u[48], u[49], u[51] = h_q[9], h_q[18], h_q[3]
    u[52], u[53], u[55] = h_b[10], h_b[19], h_b[4]
    u[56], u[57], u[59] = h_u[11], h_u[21], h_u[5]
    u[60:66] = _le6(t_ink_ms)
    u[66] = 3
    u[67:71] = (page_id, page_id >> 8, page_id >> 16, page_id >> 24)
    u[71:75] = (aid, aid >> 8, aid >> 16, aid >> 24)
    u[79], u[80] = w_len, w_len >> 8
    u[84], u[85] = t_len, t_len >> 8
    header = bytes([u[i] & 255 for i in _ORDER])

    n8 = mix(noise_a[0], noise_a[1], *_NOISE_SEEDS) + mix(noise_b[0], noise_b[1], *_NOISE_SEEDS)
    check = xor_all(header) ^ xor_all(n8)
    payload = header + w_bytes + t_bytes + bytes((check,))
    if saer_tail:
        payload = payload[:96].ljust(96, b"\x00")

    groups = len(payload) // 3
    if isinstance(spread_noise, int):
        noise: Sequence[int] = [spread_noise] * groups
    else:
        noise = spread_noise
        if len(noise) < groups:
            raise ValueError(f"spread_noise needs {groups} bytes, got {len(noise)}")
    spread = bytearray(4 * groups + len(payload) % 3)
    k = 0
    for g in range(groups):
        a = payload[k]
        b = payload[k + 1]
        c = payload[k + 2]
        n = noise[g]
        o = 4 * g
        spread[o] = (n & 145) | (a & 110)
        spread[o + 1] = (n & 66) | (b & 189)
        spread[o + 2] = (n & 44) | (c & 211)
        spread[o + 3] = (a & 145) | (b & 66) | (c & 44)
        k += 3
    spread[4 * groups :] = payload[3 * groups :]

    head = mix(prefix[0], prefix[1], *_PREFIX_SEEDS)
    return S4.encode(head + rc4m(_KEY_211, n8 + bytes(spread)))


@dataclass(frozen=True, slots=True)
class V2Decoded:
    """Fields recovered from an a_bogus v2 value (§4)."""

    prefix: tuple[int, int]
    noise_a: tuple[int, int]
    noise_b: tuple[int, int]
    spread_noise: tuple[int, ...]
    header: bytes
    screen: str
    t_string: str
    t_sign_ms: int
    t_ink_ms: int
    sign_minus_start: int
    period: int
    u27: int
    env_mask: int
    event: tuple[int, int, int, int, int]
    flag_e: int
    page_id: int
    aid: int
    query_hash: tuple[int, int, int]
    body_hash: tuple[int, int, int]
    ua_hash: tuple[int, int, int]
    zero_padded: bool


def decode_a_bogus_v2(value: str) -> V2Decoded:
    """Decode an a_bogus v2 value (raw, not percent-encoded); ValueError if malformed.

    Checks what §4 lists as structure: prefix seeds (3, 82), noise seeds (1, 0) twice, U24 =
    41, U66 = 3, W2/T lengths against the data, the XOR checksum and ``T == "<(t_sign+3)&255>,"``.
    Trailing zero bytes after the checksum (SAER's fixed 32-group tail) are tolerated and
    reported as ``zero_padded``.
    """
    raw = S4.decode(value)
    if len(raw) < 12 + 68:
        raise ValueError("too short for a_bogus v2")
    p_lo, p_hi, s0, s1 = unmix(raw[:4])
    if (s0, s1) != _PREFIX_SEEDS:
        raise ValueError("not a_bogus v2 (prefix seeds)")
    plain = rc4m(_KEY_211, raw[4:])
    n8 = plain[:8]
    na = unmix(n8[:4])
    nb = unmix(n8[4:])
    if (na[2], na[3]) != _NOISE_SEEDS or (nb[2], nb[3]) != _NOISE_SEEDS:
        raise ValueError("bad v2 noise seeds")
    spread = plain[8:]
    groups = len(spread) // 4
    payload = bytearray()
    noise = []
    for g in range(groups):
        w0, w1, w2, w3 = spread[4 * g : 4 * g + 4]
        payload += bytes(((w0 & 110) | (w3 & 145), (w1 & 189) | (w3 & 66), (w2 & 211) | (w3 & 44)))
        noise.append((w0 & 145) | (w1 & 66) | (w2 & 44))
    payload += spread[4 * groups :]
    header = bytes(payload[:50])
    if len(header) < 50:
        raise ValueError("v2 header truncated")
    u = [0] * 86
    for i, field in enumerate(_ORDER):
        u[field] = header[i]
    if u[24] != 41 or u[66] != 3:
        raise ValueError("bad v2 header constants")
    w_len = u[79] | (u[80] << 8)
    t_len = u[84] | (u[85] << 8)
    end = 50 + w_len + t_len + 1
    if len(payload) < end or any(payload[end:]):
        raise ValueError("v2 lengths do not match")
    if xor_all(header) ^ xor_all(n8) != payload[end - 1]:
        raise ValueError("v2 checksum mismatch")
    t_sign = sum(u[29 + i] << (8 * i) for i in range(6))
    t_string = payload[50 + w_len : end - 1].decode("latin-1")
    if t_string != f"{(t_sign + 3) & 255},":
        raise ValueError("v2 time string mismatch")
    return V2Decoded(
        prefix=(p_lo, p_hi),
        noise_a=(na[0], na[1]),
        noise_b=(nb[0], nb[1]),
        spread_noise=tuple(noise),
        header=header,
        screen=payload[50 : 50 + w_len].decode("latin-1"),
        t_string=t_string,
        t_sign_ms=t_sign,
        t_ink_ms=sum(u[60 + i] << (8 * i) for i in range(6)),
        sign_minus_start=u[28] - 3,
        period=u[26],
        u27=u[27],
        env_mask=u[35] | (u[36] << 8),
        event=(u[40], u[41], u[42], u[43], u[38] | (u[39] << 8)),
        flag_e=u[44] | (u[45] << 8) | (u[46] << 16) | (u[47] << 24),
        page_id=u[67] | (u[68] << 8) | (u[69] << 16) | (u[70] << 24),
        aid=u[71] | (u[72] << 8) | (u[73] << 16) | (u[74] << 24),
        query_hash=(u[48], u[49], u[51]),
        body_hash=(u[52], u[53], u[55]),
        ua_hash=(u[56], u[57], u[59]),
        zero_padded=len(payload) > end,
    )


def check_hashes_v2(decoded: V2Decoded, query: str, body: str, user_agent: str) -> str | None:
    """Compare the embedded hash bytes with a request; None if they match, else a reason."""
    h_q = sm3sm3(query + SALT)
    if decoded.query_hash != (h_q[9], h_q[18], h_q[3]):
        return "a_bogus query hash mismatch"
    h_b = _body_hash(body)
    if decoded.body_hash != (h_b[10], h_b[19], h_b[4]):
        return "a_bogus body hash mismatch"
    h_u = v2_ua_hash(user_agent, decoded.flag_e)
    if decoded.ua_hash != (h_u[11], h_u[21], h_u[5]):
        return "a_bogus user-agent hash mismatch"
    return None

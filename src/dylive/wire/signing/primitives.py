"""Shared primitives of the Douyin signing schemes.

SM3 (GB/T 32905-2016), RC4 in its standard and modified ("reversed box") forms, base64 with
the custom alphabets S0..S4, and the random-byte interleave ``mix``. See
``request-signing.md`` §1 for the definitions.
"""

from __future__ import annotations

import binascii
import hashlib
import struct
from collections.abc import Callable, Sequence
from functools import lru_cache

__all__ = [
    "S0",
    "S1",
    "S2",
    "S3",
    "S4",
    "Alphabet",
    "b64decode",
    "b64encode",
    "latin1",
    "mix",
    "rc4m",
    "rc4s",
    "sm3",
    "sm3_pure",
    "sm3sm3",
    "unmix",
    "xor_all",
]

_M32 = 0xFFFFFFFF

# ---------------------------------------------------------------------------------------------
# SM3
# ---------------------------------------------------------------------------------------------

_SM3_IV = (
    0x7380166F,
    0x4914B2B9,
    0x172442D7,
    0xDA8A0600,
    0xA96F30BC,
    0x163138AA,
    0xE38DEE4D,
    0xB0FB0E4E,
)


def _rotl(x: int, n: int) -> int:
    n %= 32
    return ((x << n) | (x >> (32 - n))) & _M32


# T_j <<< (j mod 32), precomputed for the 64 rounds.
_SM3_T = tuple(_rotl(0x79CC4519 if j < 16 else 0x7A879D8A, j) for j in range(64))
_SM3_T_LO = _SM3_T[:16]
_SM3_T_HI = _SM3_T[16:]
_unpack16 = struct.Struct(">16I").unpack_from


def _sm3_compress(v: tuple[int, ...], block: bytes, offset: int) -> tuple[int, ...]:
    m = _M32
    w = list(_unpack16(block, offset))
    append = w.append
    for j in range(16, 68):
        x = w[j - 16] ^ w[j - 9]
        y = w[j - 3]
        x ^= ((y << 15) | (y >> 17)) & m
        x ^= ((x << 15) | (x >> 17)) & m ^ ((x << 23) | (x >> 9)) & m
        y = w[j - 13]
        append(x ^ ((y << 7) | (y >> 25)) & m ^ w[j - 6])
    a, b, c, d, e, f, g, h = v
    j = 0
    for t in _SM3_T_LO:
        a12 = ((a << 12) | (a >> 20)) & m
        ss1 = (a12 + e + t) & m
        ss1 = ((ss1 << 7) | (ss1 >> 25)) & m
        wj = w[j]
        tt1 = ((a ^ b ^ c) + d + (ss1 ^ a12) + (wj ^ w[j + 4])) & m
        tt2 = ((e ^ f ^ g) + h + ss1 + wj) & m
        d = c
        c = ((b << 9) | (b >> 23)) & m
        b = a
        a = tt1
        h = g
        g = ((f << 19) | (f >> 13)) & m
        f = e
        e = tt2 ^ ((tt2 << 9) | (tt2 >> 23)) & m ^ ((tt2 << 17) | (tt2 >> 15)) & m
        j += 1
    for t in _SM3_T_HI:
        a12 = ((a << 12) | (a >> 20)) & m
        ss1 = (a12 + e + t) & m
        ss1 = ((ss1 << 7) | (ss1 >> 25)) & m
        wj = w[j]
        tt1 = (((a & b) | (a & c) | (b & c)) + d + (ss1 ^ a12) + (wj ^ w[j + 4])) & m
        tt2 = (((e & f) | (g & ~e)) + h + ss1 + wj) & m
        d = c
        c = ((b << 9) | (b >> 23)) & m
        b = a
        a = tt1
        h = g
        g = ((f << 19) | (f >> 13)) & m
        f = e
        e = tt2 ^ ((tt2 << 9) | (tt2 >> 23)) & m ^ ((tt2 << 17) | (tt2 >> 15)) & m
        j += 1
    return (
        v[0] ^ a,
        v[1] ^ b,
        v[2] ^ c,
        v[3] ^ d,
        v[4] ^ e,
        v[5] ^ f,
        v[6] ^ g,
        v[7] ^ h,
    )


# Chaining values after whole 64-byte block prefixes of recent inputs. Signed queries to one
# endpoint share long prefixes (aid=6383&app_name=douyin_web&live_id=1&…), so most of their
# blocks need not be compressed again. Bounded; the oldest entries are dropped first.
_PREFIX_STATES: dict[bytes, tuple[int, ...]] = {}
_PREFIX_STATES_MAX = 2048


def sm3_pure(data: bytes) -> bytes:
    """SM3 digest (32 bytes), pure Python. Used when OpenSSL has no SM3.

    Remembers the chaining value after each whole-block prefix of inputs longer than one
    block, so inputs sharing a long prefix with a recent one compress only their new blocks.
    """
    n = len(data)
    padded = data + b"\x80" + b"\x00" * ((55 - n) % 64) + struct.pack(">Q", n * 8)
    v: tuple[int, ...] = _SM3_IV
    start = 0
    full = n // 64  # blocks made only of data bytes
    cache = _PREFIX_STATES
    if full >= 1:
        for k in range(full, 0, -1):
            hit = cache.get(data[: 64 * k])
            if hit is not None:
                v = hit
                start = 64 * k
                break
    for off in range(start, len(padded), 64):
        v = _sm3_compress(v, padded, off)
        end = off + 64
        if end <= 64 * full:
            if len(cache) >= _PREFIX_STATES_MAX:
                del cache[next(iter(cache))]
            cache[data[:end]] = v
    return struct.pack(">8I", *v)


def _pick_sm3() -> Callable[[bytes], bytes]:
    try:
        probe = hashlib.new("sm3", b"abc").hexdigest()
    except (ValueError, TypeError):
        return sm3_pure
    if probe != "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0":
        return sm3_pure  # pragma: no cover - a broken OpenSSL build

    new = hashlib.new

    def sm3_openssl(data: bytes) -> bytes:
        return new("sm3", data).digest()

    return sm3_openssl


sm3: Callable[[bytes], bytes] = _pick_sm3()
"""SM3 digest (32 bytes): OpenSSL's through hashlib when available, else :func:`sm3_pure`."""


def sm3sm3(text: str) -> bytes:
    """ "Double SM3" of a UTF-8 string: SM3 over the 32 raw bytes of SM3(text)."""
    return sm3(sm3(text.encode("utf-8")))


# ---------------------------------------------------------------------------------------------
# RC4
# ---------------------------------------------------------------------------------------------


def _keystream(box: list[int], n: int) -> bytes:
    out = bytearray(n)
    i = j = 0
    for k in range(n):
        i = (i + 1) & 255
        si = box[i]
        j = (j + si) & 255
        sj = box[j]
        box[i] = sj
        box[j] = si
        out[k] = box[(si + sj) & 255]
    return bytes(out)


@lru_cache(maxsize=128)
def _rc4s_stream(key: bytes, n: int) -> bytes:
    box = list(range(256))
    j = 0
    klen = len(key)
    for i in range(256):
        si = box[i]
        j = (j + si + key[i % klen]) & 255
        box[i] = box[j]
        box[j] = si
    return _keystream(box, n)


@lru_cache(maxsize=128)
def _rc4m_stream(key: bytes, n: int) -> bytes:
    box = list(range(255, -1, -1))
    j = 0
    klen = len(key)
    for i in range(256):
        si = box[i]
        j = (j * si + j + key[i % klen]) & 255
        box[i] = box[j]
        box[j] = si
    return _keystream(box, n)


def _xor(data: bytes, stream: bytes) -> bytes:
    n = len(data)
    if n == 0:
        return b""
    x = int.from_bytes(data, "big") ^ int.from_bytes(stream[:n], "big")
    return x.to_bytes(n, "big")


def _stream_len(n: int) -> int:
    # Round up so that the cache holds few distinct lengths per key.
    return max(256, (n + 255) & ~255)


def rc4s(key: bytes, data: bytes) -> bytes:
    """Standard RC4 with a fresh state (§1.2). Encryption and decryption are the same."""
    if not key:
        raise ValueError("RC4 key must not be empty")
    return _xor(data, _rc4s_stream(bytes(key), _stream_len(len(data))))


def rc4m(key: bytes, data: bytes) -> bytes:
    """Modified RC4 of a_bogus v2 (§1.3): reversed initial box, j = j*(S[i]+1) + key[i]."""
    if not key:
        raise ValueError("RC4 key must not be empty")
    return _xor(data, _rc4m_stream(bytes(key), _stream_len(len(data))))


# ---------------------------------------------------------------------------------------------
# Custom base64
# ---------------------------------------------------------------------------------------------

_STD = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


class Alphabet:
    """A 64-character base64 alphabet with translation tables to and from the standard one."""

    __slots__ = ("_dec", "_enc", "chars", "charset")

    def __init__(self, chars: str) -> None:
        raw = chars.encode("ascii")
        if len(raw) != 64 or len(set(raw)) != 64:
            raise ValueError("a base64 alphabet needs 64 distinct characters")
        self.chars = chars
        self.charset = frozenset(chars)
        self._enc = bytes.maketrans(_STD, raw)
        self._dec = bytes.maketrans(raw, _STD)

    def encode(self, data: bytes, *, pad: bool = True) -> str:
        out = binascii.b2a_base64(data, newline=False).translate(self._enc)
        if not pad:
            out = out.rstrip(b"=")
        return out.decode("ascii")

    def decode(self, text: str) -> bytes:
        """Decode, dropping trailing ``=`` and trailing partial bits; ValueError on bad input."""
        body = text.rstrip("=")
        if not self.charset.issuperset(body):
            raise ValueError("character outside the base64 alphabet")
        raw = body.encode("ascii").translate(self._dec)
        if len(raw) % 4 == 1:
            raw = raw[:-1]  # a lone 6-bit character carries no whole byte
        raw += b"=" * (-len(raw) % 4)
        return binascii.a2b_base64(raw)


S0 = Alphabet("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
S1 = Alphabet("Dkdpgh4ZKsQB80/Mfvw36XI1R25+WUAlEi7NLboqYTOPuzmFjJnryx9HVGcaStCe")
S2 = Alphabet("Dkdpgh4ZKsQB80/Mfvw36XI1R25-WUAlEi7NLboqYTOPuzmFjJnryx9HVGcaStCe")
S3 = Alphabet("ckdp1h4ZKsUB80/Mfvw36XIgR25+WQAlEi7NLboqYTOPuzmFjJnryx9HVGDaStCe")
S4 = Alphabet("Dkdpgh2ZmsQB80/MfvV36XI1R45-WUAlEixNLwoqYTOPuzKFjJnry79HbGcaStCe")


def b64encode(alphabet: Alphabet, data: bytes, *, pad: bool = True) -> str:
    return alphabet.encode(data, pad=pad)


def b64decode(alphabet: Alphabet, text: str) -> bytes:
    return alphabet.decode(text)


# ---------------------------------------------------------------------------------------------
# Small helpers
# ---------------------------------------------------------------------------------------------


def latin1(text: str) -> bytes:
    """Bytes of a string taken as ``charCode & 255`` (how the JS treats UA and window strings)."""
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError:
        return bytes(ord(ch) & 255 for ch in text)


def mix(r_lo: int, r_hi: int, s0: int, s1: int) -> bytes:
    """Interleave two random bytes with two seed bytes (§1.5)."""
    r_lo &= 255
    r_hi &= 255
    s0 &= 255
    s1 &= 255
    return bytes(
        (
            (r_lo & 0xAA) | (s0 & 0x55),
            (r_lo & 0x55) | (s0 & 0xAA),
            (r_hi & 0xAA) | (s1 & 0x55),
            (r_hi & 0x55) | (s1 & 0xAA),
        )
    )


def unmix(o: Sequence[int]) -> tuple[int, int, int, int]:
    """Inverse of :func:`mix`: 4 bytes → (r_lo, r_hi, s0, s1)."""
    o0, o1, o2, o3 = o[0], o[1], o[2], o[3]
    return (
        (o0 & 0xAA) | (o1 & 0x55),
        (o2 & 0xAA) | (o3 & 0x55),
        (o0 & 0x55) | (o1 & 0xAA),
        (o2 & 0x55) | (o3 & 0xAA),
    )


def xor_all(data: Sequence[int]) -> int:
    x = 0
    for b in data:
        x ^= b
    return x

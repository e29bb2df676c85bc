"""The WebSocket ``signature`` query parameter of ``/webcast/im/push/v2/``.

Implements douyin-protocol.md §2.1: the 13-key stub string and its MD5 (``X-MS-STUB``), the
pure ``frontierSign`` algorithm (10-byte block, RC4 with a one-byte random key, base64 with
alphabet S1), and the check a server can make on a received signature.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
from collections.abc import Mapping

from .primitives import S1, rc4s, xor_all

__all__ = [
    "STUB_KEYS",
    "sign_push",
    "signature_stub",
    "stub_string",
    "verify_webcast_signature",
    "webcast_signature",
]

STUB_KEYS: tuple[str, ...] = (
    "live_id",
    "aid",
    "version_code",
    "webcast_sdk_version",
    "room_id",
    "sub_room_id",
    "sub_channel_id",
    "did_rule",
    "user_unique_id",
    "device_platform",
    "device_type",
    "ac",
    "identity",
)
"""The keys of the stub string, in the order the web SDK joins them."""

# MD5(MD5(b"")) raw; the block carries its bytes 14 and 15.
_E = hashlib.md5(hashlib.md5(b"").digest()).digest()
_E14, _E15 = _E[14], _E[15]


def stub_string(params: Mapping[str, str]) -> str:
    """The comma-joined ``key=value`` list of :data:`STUB_KEYS` (absent keys get ``""``)."""
    return ",".join(f"{key}={params.get(key, '')}" for key in STUB_KEYS)


def signature_stub(params: Mapping[str, str]) -> str:
    """``X-MS-STUB``: 32 lowercase hex chars, MD5 of :func:`stub_string` (UTF-8)."""
    return hashlib.md5(stub_string(params).encode("utf-8")).hexdigest()


def _stub_md5(stub: str) -> bytes:
    """MD5 over the 16 raw bytes the 32-hex-char stub stands for."""
    try:
        raw = bytes.fromhex(stub)
    except ValueError:
        raise ValueError("stub must be 32 hex characters") from None
    if len(raw) != 16:
        raise ValueError("stub must be 32 hex characters")
    return hashlib.md5(raw).digest()


def webcast_signature(stub: str, *, counter: int, flag: bool, r1: int, key: int) -> str:
    """Sign a stub (32 hex chars, see :func:`signature_stub`) for the push WebSocket.

    ``counter`` is the per-session signature counter (only its low 6 bits are sent), ``flag``
    the coin flip that sets 0x10 in the first byte, ``r1`` a random byte (0..254 in the SDK)
    and ``key`` the one-byte RC4 key (0..254 in the SDK). Returns 16 characters.
    """
    s = _stub_md5(stub)
    block = [counter & 0x3F, 0x00, 0x01, 0x0E, _E14, _E15, s[14], s[15], r1 & 255]
    block.append(xor_all(block))
    key &= 255
    head = bytes((0x40 | (0x10 if flag else 0), key))
    return S1.encode(head + rc4s(bytes((key,)), bytes(block)), pad=False)


def verify_webcast_signature(stub: str, signature: str) -> bool:
    """True when ``signature`` is a well-formed push signature made for ``stub``.

    Decodes with alphabet S1, RC4-decrypts the 10-byte block with byte 1 as key and checks
    ``block[2:4] == 01 0e``, ``block[6:8] == MD5(stub bytes)[14:16]`` and the XOR checksum.
    That is all a server can check: the counter, flag and random byte are not recoverable
    as right or wrong.
    """
    if len(signature) != 16:
        return False
    try:
        raw = S1.decode(signature)
        s = _stub_md5(stub)
    except ValueError:
        return False
    if len(raw) != 12 or raw[0] & 0xEF != 0x40:
        return False
    block = rc4s(raw[1:2], raw[2:])
    return (
        block[2] == 0x01
        and block[3] == 0x0E
        and block[6] == s[14]
        and block[7] == s[15]
        and xor_all(block[:9]) == block[9]
    )


_counter_lock = threading.Lock()
_counter = 0


def _next_counter() -> int:
    global _counter
    with _counter_lock:
        value = _counter
        _counter = (_counter + 1) & 0x3F
    return value


def sign_push(params: Mapping[str, str]) -> str:
    """Production signer: stub from ``params``, random flag/r1/key (``secrets``), and a
    per-process counter that increments with every call."""
    return webcast_signature(
        signature_stub(params),
        counter=_next_counter(),
        flag=secrets.randbits(1) == 1,
        r1=secrets.randbelow(255),
        key=secrets.randbelow(255),
    )

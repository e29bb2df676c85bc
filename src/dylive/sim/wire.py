"""Cheap server PushFrame encoding around a pre-gzipped payload.

Byte-for-byte what :func:`dylive.wire.frames.encode_frame` produces (proto3 field order,
zero values omitted, ``compress_type: gzip`` appended after the caller's headers), but the
payload is gzipped once per room batch and only the per-connection fields are re-encoded.
"""

from __future__ import annotations

import gzip
from functools import cache

EMPTY_GZ = gzip.compress(b"", compresslevel=6, mtime=0)
_SERVICE_METHOD = b"\x18\xb8\x45\x20\x08"  # service 8888, method 8
_ENCODING = b"\x32\x02pb"
_GZIP_HEADER = b"\x2a\x15\x0a\x0dcompress_type\x12\x04gzip"


_ONE_BYTE = [bytes((n,)) for n in range(0x80)]


def varint(n: int) -> bytes:
    if n < 0x80:
        return _ONE_BYTE[n]
    out = bytearray()
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def field(tag: int, data: bytes) -> bytes:
    """A length-delimited field (wire type 2)."""
    return varint(tag << 3 | 2) + varint(len(data)) + data


@cache
def _key_field(key: str) -> bytes:
    """A header's key as its field 1 (the keys are a handful of constants)."""
    return field(1, key.encode()) if key else b""


def header(key: str, value: str) -> bytes:
    entry = _key_field(key)
    if value:
        data = value.encode()
        entry += b"\x12" + varint(len(data)) + data  # field 2
    return b"\x2a" + varint(len(entry)) + entry  # field 5


@cache
def _trailer(payload_type: str) -> bytes:
    """What follows the caller's headers up to the payload (constant per payload_type)."""
    return _GZIP_HEADER + _ENCODING + field(7, payload_type.encode())


def frame_bytes(
    gz: bytes,
    *,
    log_id: int,
    seq_id: int = 0,
    headers: list[tuple[str, str]] | tuple[tuple[str, str], ...] = (),
    payload_type: str = "msg",
) -> bytes:
    """A gzip PushFrame around the already-gzipped ``gz`` (service 8888, method 8, "pb")."""
    parts = []
    if seq_id:
        parts.append(b"\x08" + varint(seq_id))
    if log_id:
        parts.append(b"\x10" + varint(log_id))
    parts.append(_SERVICE_METHOD)
    for key, value in headers:
        parts.append(header(key, value))
    parts.append(_trailer(payload_type))
    if gz:
        parts.append(b"\x42")  # field 8
        parts.append(varint(len(gz)))
        parts.append(gz)
    return b"".join(parts)

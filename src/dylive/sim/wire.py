"""Cheap server PushFrame encoding around a pre-gzipped payload.

Byte-for-byte what :func:`dylive.wire.frames.encode_frame` produces (proto3 field order,
zero values omitted, ``compress_type: gzip`` appended after the caller's headers), but the
payload is gzipped once per room batch and only the per-connection fields are re-encoded.
"""

from __future__ import annotations

import gzip

EMPTY_GZ = gzip.compress(b"", compresslevel=6, mtime=0)
_SERVICE_METHOD = b"\x18\xb8\x45\x20\x08"  # service 8888, method 8
_ENCODING = b"\x32\x02pb"
_GZIP_HEADER = b"\x2a\x15\x0a\x0dcompress_type\x12\x04gzip"


def varint(n: int) -> bytes:
    out = bytearray()
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def field(tag: int, data: bytes) -> bytes:
    """A length-delimited field (wire type 2)."""
    return varint(tag << 3 | 2) + varint(len(data)) + data


def header(key: str, value: str) -> bytes:
    entry = b""
    if key:
        entry += field(1, key.encode())
    if value:
        entry += field(2, value.encode())
    return field(5, entry)


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
    parts.append(_GZIP_HEADER)
    parts.append(_ENCODING)
    parts.append(field(7, payload_type.encode()))
    if gz:
        parts.append(field(8, gz))
    return b"".join(parts)

"""PushFrame / Response codec (sans-I/O, pure functions over bytes).

Wire format: ../shared/spec/douyin-protocol.md §3. Every WebSocket binary message is a PushFrame;
a ``msg`` frame carries a (usually gzipped) Response; the im/fetch body is a bare Response.
"""

from __future__ import annotations

import gzip
import sys
import zlib
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from dylive.errors import FrameError, PayloadTooLarge, ResponseError
from dylive.proto import webcast_pb2 as pb

#: Hard limit of one decompressed payload. Real Response payloads are a few KiB to ~100 KiB.
MAX_PAYLOAD = 8 * 1024 * 1024

#: Hard limit of messages in one Response (an im/fetch body or a push frame's payload). Douyin
#: sends a few dozen; without a cap, 8 MiB of two-byte empty messages (a 8 KB gzip frame) would
#: build four million message objects.
MAX_MESSAGES = 5_000
#: Larger Response bodies are walked (:func:`count_messages`) before they are parsed.
WALK_ABOVE = 64 * 1024

#: The browser's heartbeat: PushFrame{payload_type: "hb"}.
HEARTBEAT_FRAME = bytes.fromhex("3a026862")

GZIP_MAGIC = b"\x1f\x8b"


class RawMessage(NamedTuple):
    """One element of Response.messages: a method name, its id and the undecoded payload."""

    method: str
    msg_id: int
    payload: bytes


#: ``_new(RawMessage, (method, msg_id, payload))``: a NamedTuple built without its Python-level
#: ``__new__`` (one per message)
_new = tuple.__new__
#: The method names, one str each: the parser builds a new one per message, and every message
#: waiting to be stored and every row of the store's tail cache keeps its own (~70 bytes each).
_intern = sys.intern


@dataclass(frozen=True, slots=True)
class Batch:
    """A parsed Response: messages plus everything a client needs to continue."""

    messages: tuple[RawMessage, ...]
    cursor: str = ""
    internal_ext: str = ""
    fetch_interval: int = 0  # ms
    now: int = 0  # server ms
    heartbeat_duration: int = 0
    need_ack: bool = False
    push_server: str = ""  # the first of push_servers
    history_no_more: bool = False
    route_params: dict[str, str] = field(default_factory=dict)
    #: Every push server named, preferred first: push_server_v2, push_server, proxy_server
    #: (each may be a comma-separated list).
    push_servers: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Frame:
    """A parsed PushFrame with its payload already decompressed."""

    seq_id: int
    log_id: int
    payload_type: str
    headers: dict[str, str]
    payload: bytes
    service: int = 0
    method: int = 0


#: deflate expands at most ~1,032-fold: gzip data up to ``limit // GUNZIP_RATIO`` bytes cannot
#: decompress past ``limit``, so it is inflated in one call (no decompressor object per frame)
GUNZIP_RATIO = 1040
_decompress = zlib.decompress
_GZIP_WBITS = 16 + zlib.MAX_WBITS


def gunzip(data: bytes, limit: int = MAX_PAYLOAD) -> bytes:
    """Decompress gzip ``data``; more than ``limit`` bytes out is a PayloadTooLarge, not an OOM."""
    if len(data) * GUNZIP_RATIO <= limit:  # a push frame's payload (a few KB): one call
        try:
            out = _decompress(data, _GZIP_WBITS)
        except zlib.error as exc:
            if "incomplete" in str(exc):
                raise FrameError("truncated gzip payload") from exc
            raise FrameError(f"bad gzip payload: {exc}") from exc
        if len(out) > limit:
            raise PayloadTooLarge(f"payload exceeds {limit} bytes after gunzip")
        return out
    d = zlib.decompressobj(_GZIP_WBITS)
    try:
        out = d.decompress(data, limit + 1)
    except zlib.error as exc:
        raise FrameError(f"bad gzip payload: {exc}") from exc
    if len(out) > limit or d.unconsumed_tail:
        raise PayloadTooLarge(f"payload exceeds {limit} bytes after gunzip")
    if not d.eof:
        raise FrameError("truncated gzip payload")
    return out


def parse_frame(data: bytes, *, limit: int = MAX_PAYLOAD) -> Frame:
    """Parse one PushFrame; gunzip its payload when the header says ``compress_type: gzip``."""
    frame, headers, payload = read_frame(data, limit)
    return Frame(
        seq_id=frame.seq_id,
        log_id=frame.log_id,
        payload_type=frame.payload_type,
        headers=headers,
        payload=payload,
        service=frame.service,
        method=frame.method,
    )


def read_frame(data: bytes, limit: int = MAX_PAYLOAD) -> tuple[Any, dict[str, str], bytes]:
    """:func:`parse_frame` without the :class:`Frame`: the generated PushFrame, its headers and
    its (decompressed) payload. The push session's path: one frame per received message."""
    frame = pb.PushFrame()
    try:
        frame.ParseFromString(data)
    except Exception as exc:  # DecodeError, or whatever else the parser raises
        raise FrameError(f"bad PushFrame: {exc}") from exc
    headers = {h.key: h.value for h in frame.headers}
    payload = frame.payload
    if headers.get("compress_type") == "gzip":
        payload = gunzip(payload, limit)
    elif len(payload) > limit:
        raise PayloadTooLarge(f"payload exceeds {limit} bytes")
    return frame, headers, payload


def parse_response(
    body: bytes, *, limit: int = MAX_PAYLOAD, max_messages: int = MAX_MESSAGES
) -> Batch:
    """Parse a Response: a push payload or a bare im/fetch body (gzipped or not).

    More than ``max_messages`` messages is a ResponseError, found before any Python object of
    them is built (and before parsing a body over ``WALK_ABOVE`` bytes)."""
    resp = read_response(body, limit, max_messages)
    servers = response_push_servers(resp)
    return Batch(
        messages=tuple(raw_messages(resp)),
        cursor=resp.cursor,
        internal_ext=resp.internal_ext,
        fetch_interval=resp.fetch_interval,
        now=resp.now,
        heartbeat_duration=resp.heartbeat_duration,
        need_ack=resp.need_ack,
        push_server=servers[0] if servers else "",
        history_no_more=resp.history_no_more,
        route_params=dict(resp.route_params),
        push_servers=servers,
    )


def read_response(body: bytes, limit: int = MAX_PAYLOAD, max_messages: int = MAX_MESSAGES) -> Any:
    """:func:`parse_response` without the :class:`Batch`: the generated Response, checked
    (size, message count). The push session's path: one per received frame."""
    if body[:2] == GZIP_MAGIC:
        body = gunzip(body, limit)
    # a body up to WALK_ABOVE bytes is parsed first: its messages (two bytes each at least)
    # cost the parser a few MB at worst, and counting them is free once parsed
    walked = len(body) > WALK_ABOVE
    if walked and count_messages(body, max_messages) > max_messages:
        raise ResponseError(f"Response carries more than {max_messages} messages")
    resp = pb.Response()
    try:
        resp.ParseFromString(body)
    except Exception as exc:  # DecodeError, or whatever else the parser raises
        raise ResponseError(f"bad Response: {exc}") from exc
    if not walked and len(resp.messages) > max_messages:
        raise ResponseError(f"Response carries more than {max_messages} messages")
    return resp


def raw_messages(resp: Any) -> list[RawMessage]:
    """The RawMessages of a generated Response, in wire order."""
    return [_new(RawMessage, (_intern(m.method), m.msg_id, m.payload)) for m in resp.messages]


def response_push_servers(resp: Any) -> tuple[str, ...]:
    """Every push server a generated Response names, preferred first (see :class:`Batch`)."""
    return push_servers_of(resp.push_server_v2, resp.push_server, resp.proxy_server)


def count_messages(body: bytes, cap: int) -> int:
    """How many ``messages`` (field 1) a serialized Response holds, counting stops past ``cap``.

    A wire-level walk over the top-level fields, without building anything; bodies too short to
    hold more than ``cap`` messages (two bytes each at least) are not walked. Malformed bytes end
    the walk: the parser reports them.
    """
    if len(body) <= 2 * cap:
        return 0
    count = pos = 0
    end = len(body)
    while pos < end and count <= cap:
        key, pos = _varint(body, pos)
        wire = key & 7
        if wire == 0:
            _, pos = _varint(body, pos)
        elif wire == 1:
            pos += 8
        elif wire == 5:
            pos += 4
        elif wire == 2:
            size, pos = _varint(body, pos)
            pos += size
            count += key >> 3 == 1
        else:
            break
    return count


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    """The varint at ``pos`` and the position after it (past the end when truncated)."""
    value = shift = 0
    while pos < len(data) and shift < 70:
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7
    return 0, len(data) + 1


def push_servers_of(*fields: str) -> tuple[str, ...]:
    """The push servers named by ``fields`` in order, comma lists split, duplicates dropped."""
    if not any(fields):  # the usual push frame names none: nothing to split
        return ()
    out: dict[str, None] = {}
    for text in fields:
        for part in text.split(","):
            if part.strip():
                out[part.strip()] = None
    return tuple(out)


def build_ack(log_id: int, internal_ext: str) -> bytes:
    """The ACK frame: log_id echoed, payload_type "ack", payload = internal_ext (UTF-8).

    The bytes ``PushFrame(log_id=…, payload_encoding="pb", payload_type="ack",
    payload=…).SerializeToString()`` gives (fields in number order, zero values left out),
    written directly: one per received frame."""
    if not 0 <= log_id <= _M64:  # uint64, as the generated class checks
        raise ValueError(f"Value out of range: {log_id}")
    payload = internal_ext.encode("utf-8")
    head = b"\x10" + _varint_bytes(log_id) if log_id else b""
    if not payload:
        return head + _ACK_FIELDS
    return b"".join((head, _ACK_FIELDS, b"\x42", _varint_bytes(len(payload)), payload))


_M64 = (1 << 64) - 1
#: payload_encoding (6) "pb", payload_type (7) "ack"
_ACK_FIELDS = b"\x32\x02pb\x3a\x03ack"


def _varint_bytes(value: int) -> bytes:
    """``value`` (>= 0, < 2**64) as a protobuf varint."""
    if value < 0x80:
        return bytes((value,))
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def build_heartbeat() -> bytes:
    """The heartbeat frame (bytes ``3a 02 68 62``)."""
    return HEARTBEAT_FRAME


# ---------------------------------------------------------------- encoders (simulator, fixtures)


def encode_response(
    messages: list[RawMessage] | tuple[RawMessage, ...],
    *,
    cursor: str = "",
    internal_ext: str = "",
    fetch_interval: int = 1000,
    now: int = 0,
    heartbeat_duration: int = 0,
    need_ack: bool = False,
    push_server: str = "",
    push_server_v2: str = "",
    proxy_server: str = "",
    history_no_more: bool = False,
) -> bytes:
    """Serialize a Response as Douyin sends it (im/fetch body, or push payload before gzip)."""
    resp = pb.Response(
        cursor=cursor,
        internal_ext=internal_ext,
        fetch_interval=fetch_interval,
        now=now,
        heartbeat_duration=heartbeat_duration,
        need_ack=need_ack,
        push_server=push_server,
        push_server_v2=push_server_v2,
        proxy_server=proxy_server,
        history_no_more=history_no_more,
    )
    for m in messages:
        resp.messages.add(method=m.method, payload=m.payload, msg_id=m.msg_id)
    return resp.SerializeToString()


def encode_frame(
    payload: bytes,
    *,
    log_id: int,
    seq_id: int = 0,
    payload_type: str = "msg",
    headers: dict[str, str] | None = None,
    compress: bool = True,
    service: int = 8888,
    method: int = 8,
) -> bytes:
    """Serialize a server PushFrame; with ``compress`` the payload is gzipped and flagged."""
    hdrs = dict(headers or {})
    if compress:
        payload = gzip.compress(payload, compresslevel=6, mtime=0)
        hdrs["compress_type"] = "gzip"
    frame = pb.PushFrame(
        seq_id=seq_id,
        log_id=log_id,
        service=service,
        method=method,
        payload_encoding="pb",
        payload_type=payload_type,
        payload=payload,
    )
    for k, v in hdrs.items():
        frame.headers.add(key=k, value=v)
    return frame.SerializeToString()

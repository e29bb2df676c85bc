"""permessage-deflate compressed once per message, for every WebSocket client of the service.

uvicorn negotiates permessage-deflate (websockets' extension) with context takeover: each client's
compressor keeps its own history, so a room's frame fanned out to 1,000 feed clients was compressed
1,000 times. Here the server always answers with ``server_no_context_takeover`` (RFC 7692 §7.1.1.1:
a server may include it whatever the offer said; every client must accept it), so the compressed
bytes of a message depend only on the message and the window size; the first client's compression
is kept in a small LRU (bounded in bytes) and reused for the others. What a client receives is the
same RFC 7692 stream; only the compression ratio of small consecutive messages changes (no shared
history between messages).

Messages under ``MIN_SHARED`` bytes (heartbeats, pongs, status frames: different per client) are
compressed directly without the cache.
"""

from __future__ import annotations

import zlib
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

from websockets.extensions.base import ServerExtensionFactory
from websockets.extensions.permessage_deflate import (
    PerMessageDeflate,
    ServerPerMessageDeflateFactory,
)
from websockets.frames import CTRL_OPCODES, Frame, Opcode

MIN_SHARED = 512  # bytes: smaller messages are compressed per client, not cached
CACHE_BYTES = 8 << 20  # plain + compressed bytes kept at most
CACHE_ENTRIES = 2048
_TAIL = b"\x00\x00\xff\xff"  # the empty stored block a sync flush ends with (RFC 7692 §7.2.1)


class CompressedOnce:
    """LRU of (window bits, settings, message) → its permessage-deflate payload."""

    def __init__(self, max_bytes: int = CACHE_BYTES, max_entries: int = CACHE_ENTRIES) -> None:
        self.max_bytes, self.max_entries = max_bytes, max_entries
        self._lru: OrderedDict[tuple[int, tuple[Any, ...], bytes], bytes] = OrderedDict()
        self.bytes = 0
        self.hits = self.misses = 0

    def get(self, bits: int, settings: dict[str, Any], data: bytes) -> bytes:
        key = (bits, tuple(sorted(settings.items())), data)
        found = self._lru.get(key)
        if found is not None:
            self._lru.move_to_end(key)
            self.hits += 1
            return found
        self.misses += 1
        out = deflate(bits, settings, data)
        self._lru[key] = out
        self.bytes += len(data) + len(out)
        while self.bytes > self.max_bytes or len(self._lru) > self.max_entries:
            (_, _, old), value = self._lru.popitem(last=False)
            self.bytes -= len(old) + len(value)
        return out


def deflate(bits: int, settings: dict[str, Any], data: bytes) -> bytes:
    """One message compressed alone (no context takeover), its trailing empty block removed."""
    encoder = zlib.compressobj(wbits=-bits, **settings)
    out = encoder.compress(data) + encoder.flush(zlib.Z_SYNC_FLUSH)
    return out[:-4] if out.endswith(_TAIL) else out


SHARED = CompressedOnce()


class SharedDeflate(PerMessageDeflate):
    """websockets' extension, encoding whole data frames through :data:`SHARED`."""

    def encode(self, frame: Frame) -> Frame:
        if (
            frame.opcode in CTRL_OPCODES
            or frame.opcode is Opcode.CONT
            or not frame.fin
            or not self.local_no_context_takeover
        ):
            return super().encode(frame)
        data = bytes(frame.data)
        bits, settings = self.local_max_window_bits, self.compress_settings
        out = (
            deflate(bits, settings, data)
            if len(data) < MIN_SHARED
            else SHARED.get(bits, settings, data)
        )
        return Frame(frame.opcode, out, True, True, frame.rsv2, frame.rsv3)


class SharedDeflateFactory(ServerPerMessageDeflateFactory):
    """The server side of the negotiation, with ``server_no_context_takeover`` always set."""

    def __init__(self, **options: Any) -> None:
        super().__init__(server_no_context_takeover=True, **options)

    def process_request_params(
        self, params: Sequence[tuple[str, str | None]], accepted_extensions: Sequence[Any]
    ) -> tuple[list[tuple[str, str | None]], PerMessageDeflate]:
        response, ext = super().process_request_params(params, accepted_extensions)
        shared = SharedDeflate(
            ext.remote_no_context_takeover,
            ext.local_no_context_takeover,
            ext.remote_max_window_bits,
            ext.local_max_window_bits,
            ext.compress_settings,
        )
        return response, shared


def shared_extensions(available: Sequence[ServerExtensionFactory]) -> list[ServerExtensionFactory]:
    """uvicorn's extension list with its permessage-deflate factory replaced by the shared one
    (same window bits and compression settings)."""
    out: list[ServerExtensionFactory] = []
    for factory in available:
        if type(factory) is ServerPerMessageDeflateFactory:
            factory = SharedDeflateFactory(
                server_max_window_bits=factory.server_max_window_bits,
                client_max_window_bits=factory.client_max_window_bits,
                compress_settings=factory.compress_settings,
                client_no_context_takeover=factory.client_no_context_takeover,
                require_client_max_window_bits=factory.require_client_max_window_bits,
            )
        out.append(factory)
    return out


__all__ = ["SHARED", "CompressedOnce", "SharedDeflate", "SharedDeflateFactory", "shared_extensions"]

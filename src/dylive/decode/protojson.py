"""A stored raw payload as protobuf's canonical JSON mapping (what Go's ``protojson`` writes):
lowerCamelCase names, 64-bit integers as strings, enums by name, bytes as base64, defaults
omitted. Fields our ``webcast.proto`` does not declare are absent. Used by the douyinLive-compatible
feed; the generated classes stay inside ``decode/``."""

from __future__ import annotations

from typing import Any

from google.protobuf import json_format
from google.protobuf.message import DecodeError

from .decoders import DECODERS


def to_protojson(method: str, raw: bytes) -> dict[str, Any] | None:
    """The JSON mapping of ``raw`` decoded as ``method``'s message (None: unknown or bad bytes)."""
    entry = DECODERS.get(method)
    if entry is None or not raw:
        return None
    message = entry[0]()
    try:
        message.ParseFromString(raw)
    except DecodeError:
        return None
    data: dict[str, Any] = json_format.MessageToDict(message)
    return data

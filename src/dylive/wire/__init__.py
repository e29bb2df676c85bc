"""The wire: Douyin's bytes and signatures, with no I/O and nothing above them.

The ground floor that the collector (``dylive.source``), the decoder (``dylive.decode``), the
simulator (``dylive.sim``) and the identity tools (``dylive.identity``) share; it imports only
``dylive.errors``, ``dylive.numbers`` and ``dylive.proto`` (tests/test_layers.py holds it there).

- :mod:`dylive.wire.frames`: the PushFrame / Response codec (parse and encode, acks, heartbeat).
- :mod:`dylive.wire.session`: :class:`PushSession`, the sans-I/O push connection state.
- :mod:`dylive.wire.signing`: Douyin's request signing (a_bogus, push signature, msToken,
  ``__ac_signature``), producing and verifying; its own ``__all__`` lists it.

The names below are imported lazily (reading one imports only its module).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dylive.wire.frames import (
        HEARTBEAT_FRAME,
        MAX_MESSAGES,
        MAX_PAYLOAD,
        Batch,
        Frame,
        RawMessage,
        build_ack,
        encode_frame,
        encode_response,
        gunzip,
        parse_frame,
        parse_response,
        push_servers_of,
    )
    from dylive.wire.session import PushSession

_EXPORTS = {
    **dict.fromkeys(
        (
            "HEARTBEAT_FRAME",
            "MAX_MESSAGES",
            "MAX_PAYLOAD",
            "Batch",
            "Frame",
            "RawMessage",
            "build_ack",
            "encode_frame",
            "encode_response",
            "gunzip",
            "parse_frame",
            "parse_response",
            "push_servers_of",
        ),
        "dylive.wire.frames",
    ),
    "PushSession": "dylive.wire.session",
}

__all__ = [
    "HEARTBEAT_FRAME",
    "MAX_MESSAGES",
    "MAX_PAYLOAD",
    "Batch",
    "Frame",
    "PushSession",
    "RawMessage",
    "build_ack",
    "encode_frame",
    "encode_response",
    "gunzip",
    "parse_frame",
    "parse_response",
    "push_servers_of",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'dylive.wire' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value

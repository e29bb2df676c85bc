"""Sans-I/O push session: bytes in, raw messages and bytes-to-send out.

No sockets and no clocks: the asyncio driver (``dylive.source.push``) moves bytes and runs the heartbeat timer.
Design after python-websockets' ``protocol.py``.

    session = PushSession()
    for raw in session.receive_frame(ws_bytes):   # decoded messages, in wire order
        ...
    for out in session.data_to_send():            # acks to write back, in order
        await ws.send(out)
    await ws.send(session.heartbeat())            # every max(10 s, heartbeat_duration)
"""

from __future__ import annotations

from typing import Any

from dylive.errors import FrameError
from dylive.numbers import ascii_uint
from dylive.wire.frames import (
    HEARTBEAT_FRAME,
    MAX_PAYLOAD,
    RawMessage,
    build_ack,
    raw_messages,
    read_frame,
    read_response,
    response_push_servers,
)

#: Never heartbeat less often than this (seconds); Douyin drops silent sockets after ~20-30 s.
MIN_HEARTBEAT_INTERVAL = 10.0


class PushSession:
    """State of one push connection: continuation tokens, pending acks, server hints."""

    def __init__(
        self, *, cursor: str = "", internal_ext: str = "", limit: int = MAX_PAYLOAD
    ) -> None:
        self.cursor = cursor
        self.internal_ext = internal_ext
        self.fetch_interval = 0
        self.heartbeat_duration = 0
        self.push_server = ""
        self.now = 0
        self.closed_by_server = False
        self.frames_received = 0
        self.heartbeats_received = 0
        self._limit = limit
        self._outgoing: list[bytes] = []

    def receive_frame(self, data: bytes) -> list[RawMessage]:
        """Feed one WebSocket binary message; returns its messages (empty for hb/ack/close).

        Raises ``FrameError``/``PayloadTooLarge``/``ResponseError`` (all ``ProtocolError``) for
        bytes that are not a valid frame, a header that does not parse (``im-now`` must be ASCII
        digits) or a Response over ``MAX_MESSAGES``; the session stays usable (the driver
        decides whether to reconnect).
        """
        # the generated PushFrame/Response are read directly: no Frame/Batch per frame
        frame, headers, payload = read_frame(data, self._limit)
        self.frames_received += 1
        kind = frame.payload_type
        if kind == "hb":
            self.heartbeats_received += 1
            return []
        if kind == "close":
            self.closed_by_server = True
            return []
        if kind != "msg":
            return []
        resp = read_response(payload, self._limit)
        self._update(resp, headers)
        if resp.need_ack:
            ext = headers.get("im-internal_ext") or resp.internal_ext
            self._outgoing.append(build_ack(frame.log_id, ext))
        return raw_messages(resp)

    def _update(self, resp: Any, headers: dict[str, str]) -> None:
        """Take the continuation tokens and hints of a generated Response (and its frame's
        headers, which win)."""
        now = _header_ms(headers)  # first: a bad header leaves the session unchanged
        self.cursor = headers.get("im-cursor") or resp.cursor or self.cursor
        self.internal_ext = headers.get("im-internal_ext") or resp.internal_ext or self.internal_ext
        if resp.fetch_interval:
            self.fetch_interval = resp.fetch_interval
        if resp.heartbeat_duration:
            self.heartbeat_duration = resp.heartbeat_duration
        servers = response_push_servers(resp)
        if servers:
            self.push_server = servers[0]
        self.now = now or resp.now or self.now

    def data_to_send(self) -> list[bytes]:
        """Frames to write back (acks), in order; the list is drained."""
        out, self._outgoing = self._outgoing, []
        return out

    def heartbeat(self) -> bytes:
        """The heartbeat frame to send now."""
        return HEARTBEAT_FRAME

    @property
    def heartbeat_interval(self) -> float:
        """Seconds between heartbeats: max(10 s, the server's heartbeat_duration)."""
        hd = float(self.heartbeat_duration)
        if hd > 1000:  # some servers give ms
            hd /= 1000.0
        return max(MIN_HEARTBEAT_INTERVAL, hd)


def _header_ms(headers: dict[str, str]) -> int:
    """The ``im-now`` header (server ms), 0 when absent; FrameError when it is not a number."""
    text = headers.get("im-now", "")
    if not text:
        return 0
    value = ascii_uint(text)
    if value is None:
        raise FrameError(f"bad im-now header: {text[:40]!r}")
    return value

"""The WebSocket side of the edge (:mod:`dylive.serve.edge`): a refused upgrade (a bad
``Sec-WebSocket-Version``, a header line over 8 KiB, over 128 headers) answered in the envelope,
a text frame that is not UTF-8 closed with 1007 and one log line (uvicorn logs a traceback
there), permessage-deflate compressed once per message (:mod:`.wsdeflate`)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from .edge import _REASONS, refusal
from .errors import BAD_REQUEST, HEADERS_TOO_LARGE, URL_TOO_LONG
from .wsdeflate import shared_extensions

log = logging.getLogger(__name__)


class _WebSocketEdge:
    """The WebSocket side: refused handshakes in the envelope, a text frame that is not UTF-8
    closed with 1007 and one log line (no traceback), permessage-deflate compressed once."""

    curr_msg_data_type: str
    frames: list[bytes]
    conn: Any
    client: tuple[str, int] | None
    transport: asyncio.Transport
    handshake_complete: bool
    close_sent: bool
    shared_deflate = True

    def handle_connect(self, event: Any) -> None:
        if self.shared_deflate:  # permessage-deflate compressed once per message (wsdeflate.py)
            self.conn.available_extensions = shared_extensions(self.conn.available_extensions or [])
        accept = self.conn.accept

        def enveloped(request: Any) -> Any:  # a refusal (bad version, key …) in the envelope
            response = accept(request)
            if response.status_code == 101:
                return response
            return _ws_refusal(response.status_code, response.body.decode(errors="replace"))

        self.conn.accept = enveloped  # for this call only
        try:
            super().handle_connect(event)  # type: ignore[misc]
        finally:
            del self.conn.accept

    def handle_handshake_exception(self) -> None:
        """websockets could not read the upgrade request (a line over 8 KiB, too many headers)."""
        queued = b"".join(self.conn.data_to_send())
        status = int(queued.split(b" ", 2)[1]) if queued.startswith(b"HTTP/1.1 ") else 400
        detail = f"Failed to open a WebSocket connection: {self.conn.handshake_exc}"
        self.handshake_complete = self.close_sent = True  # as uvicorn's own handler does
        self.transport.write(refusal(_WS_KINDS.get(status, BAD_REQUEST), detail))
        self.transport.close()

    def send_receive_event_to_app(self) -> None:
        if self.curr_msg_data_type == "text":
            data = b"".join(self.frames)
            try:
                data.decode()
            except UnicodeDecodeError:
                self.frames = []
                peer = f"{self.client[0]}:{self.client[1]}" if self.client else "a client"
                log.info("websocket from %s: a text frame is not UTF-8; closed (1007)", peer)
                self.conn.send_close(1007, "invalid UTF-8")
                self.handle_parser_exception()  # type: ignore[attr-defined]
                return
        super().send_receive_event_to_app()  # type: ignore[misc]


_WS_KINDS = {431: HEADERS_TOO_LARGE, 414: URL_TOO_LONG}


def _ws_refusal(status: int, detail: str) -> Any:
    """websockets' Response for a refused handshake, with the envelope as its body."""
    from websockets.datastructures import Headers
    from websockets.http11 import Response

    kind = _WS_KINDS.get(status, BAD_REQUEST)
    _, _, raw = refusal(kind, detail.strip()).partition(b"\r\n\r\n")
    length = str(len(raw))
    headers = Headers(
        [("Content-Type", "application/json"), ("Content-Length", length), ("Connection", "close")]
    )
    reason = _REASONS.get(kind.status, b"").decode()
    return Response(kind.status, reason, headers, raw)


def websocket_protocol(*, shared_deflate: bool = True) -> type[asyncio.Protocol] | str:
    """The WebSocket protocol class (websockets' sans-I/O implementation), else ``auto``;
    ``shared_deflate``: permessage-deflate compressed once per message (serve/wsdeflate.py)."""
    try:
        from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
    except ImportError:
        return "auto"
    attrs = {"shared_deflate": shared_deflate}
    return type("EdgeWebSocket", (_WebSocketEdge, WebSocketsSansIOProtocol), attrs)


__all__ = ["websocket_protocol"]

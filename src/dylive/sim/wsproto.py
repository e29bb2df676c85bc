"""uvicorn's WebSocket protocol, plus a per-socket clock of the client's ping frames.

Some clients (DouyinLiveWebFetcher) send their heartbeat inside WebSocket ping frames instead
of binary ``hb`` frames; Douyin keeps such sockets open. ASGI never sees pings, so this protocol
records them in the connection scope under :data:`dylive.sim.push.PING_CLOCK`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

PING_CLOCK = "dylive.ping_clock"


@dataclass(slots=True)
class PingClock:
    last: float = 0.0  # monotonic time of the last ping received; 0 = none yet
    count: int = 0


class PingAwareProtocol(WebSocketsSansIOProtocol):
    """Records every client ping in ``scope[PING_CLOCK]`` (then answers it as uvicorn does)."""

    def handle_connect(self, event: object) -> None:
        super().handle_connect(event)  # type: ignore[arg-type]
        scope = getattr(self, "scope", None)
        if scope is not None:
            scope[PING_CLOCK] = PingClock()

    async def send(self, message: Any) -> None:
        if message["type"] == "websocket.http.response.body" and not message.get("more_body"):
            self._bare_refusal()
        await super().send(message)

    def _bare_refusal(self) -> None:
        """A 2026-shaped refusal (it carries ``x-tt-logid``) goes out without the Content-Type
        uvicorn would add, as Douyin's does (docs/simulator.md, era ``wire_2026``)."""
        initial = getattr(self, "initial_response", None)
        if initial is None or not any(k.lower() == "x-tt-logid" for k, _ in initial[1]):
            return
        send_response = self.conn.send_response

        def without_content_type(response: Any) -> None:
            del response.headers["Content-Type"]
            send_response(response)

        self.conn.send_response = without_content_type  # type: ignore[method-assign]

    def handle_ping(self) -> None:
        clock = getattr(self, "scope", {}).get(PING_CLOCK)
        if clock is not None:
            clock.last = time.monotonic()
            clock.count += 1
        super().handle_ping()


__all__ = ["PING_CLOCK", "PingAwareProtocol", "PingClock"]

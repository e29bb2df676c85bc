"""The push WebSocket ``/webcast/im/push/v2/`` (douyin-protocol.md §2, §3).

Handshake: ``signature`` must verify against the stub of the query, else HTTP 200 with
``handshake-status: 415`` / ``handshake-msg: DEVICE_BLOCKED`` and no upgrade. Then the
connection starts at the position of the URL's internal_ext/cursor (none → "now"), and gets
gzip msg frames (need_ack) for every log entry after it, without gaps or repeats. Frames of a
room batch are encoded once and shared; only seq_id/log_id/internal_ext differ per socket.

Client frames: binary heartbeat ``3a026862`` (answered with an "hb" frame), acks (log_id
echoed; the acked position is recorded). A socket with no heartbeat for ``heartbeat_timeout``
seconds is closed (1001 "heartbeat timeout"); uvicorn pings and drops sockets that do not pong.
After ControlMessage action 3 the broadcast's last frame is followed by a "close" frame.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import logging
import random
import time
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from starlette.responses import Response
from starlette.websockets import WebSocket

from dylive.proto import webcast_pb2 as pb
from dylive.wire.frames import HEARTBEAT_FRAME
from dylive.wire.signing import signature_stub, verify_webcast_signature

from .builders import STATS_METHODS
from .defences import GIFT, Defences, Guard, Visitor
from .era import LIVE_CURSOR, Era, refusal_headers
from .positions import ext_position, push_ext
from .rooms import Broadcast, LogEntry, Registry, Room, now_ms, push_response
from .wire import EMPTY_GZ, frame_bytes
from .wsproto import PING_CLOCK

log = logging.getLogger(__name__)

DENIAL_HEADERS = {
    "handshake-status": "415",
    "handshake-msg": "DEVICE_BLOCKED",
    "server": "volc-dcdn",
}


@dataclass(slots=True)
class PushSettings:
    heartbeat_timeout: float = 30.0
    heartbeat_duration: int = 15
    frame_max: int = 50
    verify_signature: bool = True


@dataclass(slots=True)
class PushStats:
    connections_total: int = 0
    handshakes_refused: int = 0
    frames_sent: int = 0
    messages_sent: int = 0
    bytes_sent: int = 0
    hb_sent: int = 0
    acks_received: int = 0
    heartbeats_received: int = 0
    heartbeat_timeouts: int = 0
    drops: int = 0
    corrupt_frames: int = 0
    duplicates_sent: int = 0
    reordered_frames: int = 0
    close_frames: int = 0


class PushHub:
    """Server-wide push state: live connections, counters, the heartbeat/drop reaper."""

    def __init__(
        self, registry: Registry, settings: PushSettings, seed: int, guard: Guard | None = None
    ) -> None:
        self.registry = registry
        self.settings = settings
        self.guard = guard or Guard(Defences())
        self.stats = PushStats()
        self.conns: set[PushConn] = set()
        self._rng = random.Random(seed ^ 0x9054)
        self.default_era = Era()  # for handshakes that name no known room

    def snapshot(self) -> dict[str, Any]:
        out: dict[str, Any] = {"connections": len(self.conns)}
        out.update({k: getattr(self.stats, k) for k in PushStats.__slots__})
        return out

    async def reaper(self) -> None:
        """Close silent sockets and apply ``drop_every``; runs for the server's lifetime."""
        interval = max(0.05, min(1.0, self.settings.heartbeat_timeout / 4))
        while True:
            await asyncio.sleep(interval)
            mono = time.monotonic()
            for conn in list(self.conns):
                if mono - conn.last_alive() > self.settings.heartbeat_timeout:
                    self.stats.heartbeat_timeouts += 1
                    await conn.kill(1001, "heartbeat timeout")
                elif conn.room is not None and 0 < conn.room.faults.drop_every < mono - conn.opened:
                    self.stats.drops += 1
                    await conn.kill(1001, "sim drop")

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        ws = WebSocket(scope, receive, send)
        await ws.receive()  # websocket.connect
        params = dict(
            parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
        )
        # The signature alphabet has '+' and no space: a '+' sent unencoded (as several clients
        # do) was decoded as a space above and is taken back.
        params["signature"] = params.get("signature", "").replace(" ", "+")
        room_id = int(params["room_id"]) if params.get("room_id", "").isdigit() else 0
        room = self.registry.by_id(room_id)
        client = scope.get("client") or ("", 0)
        visitor = self.guard.visitor(ws.cookies, str(client[0]))
        reason = "" if self._allowed(params, room) else "signature"
        reason = reason or self.guard.handshake_refusal(visitor, params, ws.headers)
        if reason:
            log.debug("push: handshake refused (%s)", reason)
            self.stats.handshakes_refused += 1
            headers = dict(DENIAL_HEADERS)
            if (room.era if room is not None else self.default_era).wire_2026:
                headers.update(refusal_headers())
            await ws.send_denial_response(Response(b"", status_code=200, headers=headers))
            return
        if room is not None:
            self.guard.risk.on_join(visitor, room_id)
        await ws.accept()
        conn = PushConn(self, room, params, send, self._rng.getrandbits(32))
        conn.visitor = visitor
        conn.cookieless = not ws.cookies.get("ttwid") and not visitor.logged_in
        conn.pings = scope.get(PING_CLOCK)
        self.conns.add(conn)
        self.stats.connections_total += 1
        if room is not None:
            room.conns.add(conn)
        try:
            await conn.run(receive)
        finally:
            self.conns.discard(conn)
            if room is not None:
                room.conns.discard(conn)

    def _allowed(self, params: dict[str, str], room: Room | None) -> bool:
        if room is not None and room.faults.refuse_handshake:
            return False
        if not self.settings.verify_signature:
            return True
        return verify_webcast_signature(signature_stub(params), params.get("signature", ""))


@dataclass(slots=True)
class _Pending:
    log_ids: OrderedDict[int, int] = field(default_factory=OrderedDict)

    def add(self, log_id: int, pos: int) -> None:
        self.log_ids[log_id] = pos
        while len(self.log_ids) > 256:
            self.log_ids.popitem(last=False)


class PushConn:
    """One push socket: its position in the room log, fault dice, ack/heartbeat bookkeeping."""

    def __init__(
        self, hub: PushHub, room: Room | None, params: dict[str, str], send: Any, salt: int
    ) -> None:
        self.hub = hub
        self.room = room
        self._send = send
        self.did = params.get("user_unique_id", "") or "0"
        self.first_req_ms = now_ms()
        self.opened = self.last_hb = time.monotonic()
        self.rng = random.Random(salt)
        self.log_base = salt << 24
        self.frames = 0
        self.pending = _Pending()
        self.acked_pos = 0
        self.recent: deque[LogEntry] = deque(maxlen=32)
        self.held: bytes | None = None
        self.closed = False
        self._corrupt_turn = 0
        self._sender: asyncio.Task[None] | None = None
        self.bc: Broadcast | None = None
        self.visitor = Visitor("", "")
        self.cookieless = False  # sent neither a ttwid nor a login cookie
        self.gifts_seen = 0  # gift messages sent (era login_gift_limit)
        self.gifts_withheld = 0
        self.pings: Any = None  # PingClock: WebSocket pings from the client count as keep-alive
        self.pos = self.scan = 0
        if room is not None:
            self.bc = room.broadcast_of(int(params["room_id"]))
            assert self.bc is not None
            start = room.resolve(params.get("cursor", ""), params.get("internal_ext", ""))
            self.pos = room.clamp(room.limit_of(self.bc) if start is None else start, self.bc)
            self.scan = self.pos
            self.start_pos = self.pos

    def last_alive(self) -> float:
        """Monotonic time of the client's last heartbeat frame or WebSocket ping."""
        ping = self.pings.last if self.pings is not None else 0.0
        return max(self.last_hb, ping)

    def hides_gifts(self) -> bool:
        return not self.hub.guard.gifts_visible(self.visitor)

    def logged_in(self) -> bool:
        return self.hub.guard.session(self.visitor.sid) is not None

    def silenced(self) -> bool:
        """Era ``silent_cookieless``: a socket without cookies only gets statistics."""
        return self.room is not None and self.room.era.silent_cookieless and self.cookieless

    def info(self) -> dict[str, Any]:
        return {
            "room_id": self.bc.room_id if self.bc else 0,
            "logged_in": self.visitor.logged_in,
            "pings": self.pings.count if self.pings is not None else 0,
            "did": self.did,
            "cookieless": self.cookieless,
            "silenced": self.silenced(),
            "gifts_withheld": self.gifts_withheld,
            "position": self.pos,
            "acked_position": self.acked_pos,
            "frames": self.frames,
            "age": round(time.monotonic() - self.opened, 3),
        }

    # ------------------------------------------------------------ lifecycle

    async def run(self, receive: Any) -> None:
        if self.room is not None:
            self._sender = asyncio.create_task(self._send_loop())
        try:
            await self._receive_loop(receive)
        finally:
            self.closed = True
            if self._sender is not None:
                self._sender.cancel()
                with contextlib.suppress(asyncio.CancelledError, OSError, RuntimeError):
                    await self._sender

    async def kill(self, code: int, reason: str) -> None:
        """Close the socket from the server side (heartbeat timeout, drop fault, live end)."""
        if self.closed:
            return
        self.closed = True
        if self._sender is not None and self._sender is not asyncio.current_task():
            self._sender.cancel()
        with contextlib.suppress(OSError, RuntimeError):
            await self._send({"type": "websocket.close", "code": code, "reason": reason})

    async def send(self, data: bytes) -> None:
        if self.closed:
            return
        await self._send({"type": "websocket.send", "bytes": data})
        self.hub.stats.bytes_sent += len(data)

    # ------------------------------------------------------------ client → server

    async def _receive_loop(self, receive: Any) -> None:
        while True:
            message = await receive()
            if message["type"] == "websocket.disconnect":
                return
            data = message.get("bytes")
            if data is None:
                continue
            if data == HEARTBEAT_FRAME:
                await self._heartbeat()
                continue
            frame = pb.PushFrame()
            try:
                frame.ParseFromString(data)
            except Exception:  # a garbage frame from the client is ignored, like Douyin does
                log.debug("push: unparsable client frame (%d bytes)", len(data))
                continue
            if frame.payload_type == "hb":
                await self._heartbeat()
            elif frame.payload_type == "ack":
                self._ack(frame.log_id, frame.payload)

    async def _heartbeat(self) -> None:
        self.last_hb = time.monotonic()
        self.hub.stats.heartbeats_received += 1
        hb = frame_bytes(
            EMPTY_GZ, log_id=0, headers=[("server_time", str(now_ms()))], payload_type="hb"
        )
        with contextlib.suppress(OSError, RuntimeError):
            await self.send(hb)
            self.hub.stats.hb_sent += 1

    def _ack(self, log_id: int, payload: bytes) -> None:
        self.hub.stats.acks_received += 1
        pos = self.pending.log_ids.pop(log_id, None)
        if pos is None:
            pos = ext_position(payload.decode("utf-8", "replace"))
        if pos is not None and pos > self.acked_pos:
            self.acked_pos = pos

    # ------------------------------------------------------------ server → client

    async def _send_loop(self) -> None:
        room, bc = self.room, self.bc
        assert room is not None and bc is not None
        try:
            while not self.closed:
                limit = room.limit_of(bc)
                fake = (
                    room.faults.fake_alive
                    or self.hub.guard.blocked(self.visitor)
                    or self.silenced()
                )
                if (self.scan if fake else self.pos) < limit:
                    await (self._flush_fake(limit) if fake else self._flush(limit))
                    continue
                if bc.end is not None and not fake:
                    await self._finish()
                    return
                await room.changed.wait()
        except (OSError, RuntimeError) as exc:  # the client went away mid-send
            log.debug("push: send failed: %r", exc)

    async def _finish(self) -> None:
        if self.held is not None:
            await self.send(self.held)
            self.held = None
        await self.send(frame_bytes(EMPTY_GZ, log_id=self._next_log_id(), payload_type="close"))
        self.hub.stats.close_frames += 1
        await self.kill(1000, "live ended")

    async def _flush(self, limit: int) -> None:
        room = self.room
        assert room is not None
        faults = room.faults
        while self.pos < limit and not self.closed:
            shared = room.shared.get(self.pos)
            if shared is not None and shared.end <= limit:
                entries = shared.entries
            else:
                entries, shared = room.entries(self.pos, self.hub.settings.frame_max, limit), None
            end = self.pos + len(entries)
            frame, hold = self._build(entries, end, shared, faults)
            self.pos = self.scan = end
            self.recent.extend(entries)
            if hold and self.held is None:
                self.held = frame
                self.hub.stats.reordered_frames += 1
                continue
            await self.send(frame)
            if self.held is not None:
                held, self.held = self.held, None
                await self.send(held)

    async def _flush_fake(self, limit: int) -> None:
        """fake_alive: only stats messages, and the cursor stays where it was."""
        room = self.room
        assert room is not None
        stats = [e for e in room.log[self.scan : limit] if e.method in STATS_METHODS]
        self.scan = limit
        if stats:
            gz = self._gzip_response(stats, self.pos)
            await self.send(self._frame(gz, self.pos, len(stats)))

    def _build(
        self, entries: list[LogEntry], end: int, shared: Any, faults: Any
    ) -> tuple[bytes, bool]:
        """The frame for ``entries`` (shared bytes unless a fault fires) and whether to hold it."""
        rng = self.rng
        messages = entries
        custom = shared is None
        if faults.duplicates and self.recent and rng.random() < faults.duplicates:
            messages = [*entries, rng.choice(self.recent)]
            custom = True
            self.hub.stats.duplicates_sent += 1
        # what this visitor may see is decided after the duplicate is added, so a re-sent
        # message is hidden or masked like the first one
        if self.hides_gifts():
            messages = [e for e in messages if e.method != GIFT]
            custom = True
        era = self.room.era if self.room is not None else Era()
        if era.login_gift_limit and self.logged_in():
            messages = self._gift_limit(messages, era.login_gift_limit)
            custom = True
        if era.mask_guests and not self.logged_in():
            room = self.room
            assert room is not None
            messages = [e.masked_view(room.web_rid, room.anchor.id) for e in messages]
            custom = True
        hold = False
        if faults.out_of_order and rng.random() < faults.out_of_order:
            if len(messages) >= 2:
                messages = list(reversed(messages))
                custom = True
                self.hub.stats.reordered_frames += 1
            else:
                hold = True
        if faults.corrupt and rng.random() < faults.corrupt:
            self.hub.stats.corrupt_frames += 1
            return self._frame(self._corrupt(messages, end), end, len(messages)), hold
        gz = self._gzip_response(messages, end) if custom else shared.gz()
        now = None if custom else shared.now
        return self._frame(gz, end, len(messages), now), hold

    def _gift_limit(self, messages: list[LogEntry], limit: int) -> list[LogEntry]:
        """Era ``login_gift_limit``: the socket's first ``limit`` gifts pass, later ones not."""
        out = []
        for e in messages:
            if e.method == GIFT:
                if self.gifts_seen >= limit:
                    self.gifts_withheld += 1
                    continue
                self.gifts_seen += 1
            out.append(e)
        return out

    def _corrupt(self, messages: list[LogEntry], end: int) -> bytes:
        self._corrupt_turn += 1
        if self._corrupt_turn % 2:
            gz = self._gzip_response(messages, end)
            return gz[:10] + bytes(x ^ 0x5A for x in gz[10:])  # broken deflate stream
        raw = self._response(messages, end, now_ms())
        first = raw[1] if len(raw) > 1 else 0
        return gzip.compress(raw[: 2 + max(1, first // 2)], mtime=0)  # truncated protobuf

    def _response(self, messages: list[LogEntry], pos: int, now: int) -> bytes:
        room, bc = self.room, self.bc
        assert room is not None and bc is not None
        return push_response(
            messages,
            pos=pos,
            last_msg_id=room.last_msg_id(pos),
            room_id=bc.room_id,
            now=now,
            heartbeat_duration=self.hub.settings.heartbeat_duration,
            head_msg_id=room.head_msg_id(bc) if room.era.wire_2026 else None,
        )

    def _gzip_response(self, messages: list[LogEntry], pos: int) -> bytes:
        return gzip.compress(self._response(messages, pos, now_ms()), compresslevel=6, mtime=0)

    def _next_log_id(self) -> int:
        self.frames += 1
        return self.log_base + self.frames

    def _frame(self, gz: bytes, pos: int, count: int, now: int | None = None) -> bytes:
        room, bc = self.room, self.bc
        assert room is not None and bc is not None
        now = now or now_ms()
        last = room.last_msg_id(pos)
        log_id = self._next_log_id()
        self.pending.add(log_id, pos)
        stats = self.hub.stats
        stats.frames_sent += 1
        stats.messages_sent += count
        headers: tuple[tuple[str, str], ...] = (
            ("im-cursor", room.cursor(now, pos, bc)),
            ("im-internal_ext", push_ext(bc.room_id, self.did, self.first_req_ms, pos, last)),
            ("im-now", str(now)),
        )
        if room.era.wire_2026:
            headers += (("im-live_cursor", LIVE_CURSOR),)
        return frame_bytes(gz, log_id=log_id, seq_id=self.frames, headers=headers)

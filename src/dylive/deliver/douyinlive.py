"""Frames in douyinLive's (github.com/jwwsjlm/douyinLive) WebSocket format, for ``/ws/{live_id}``.

douyinLive sends two kinds of JSON text frames on ``ws://host:1088/ws/{live_id}``:

- business messages: the Douyin protobuf message converted with Go's ``protojson.Marshal``
  (lowerCamelCase field names, 64-bit integers as strings, enums by name, bytes as base64, default
  values omitted) plus four added keys: ``method``, ``livename`` (anchor nickname), ``title`` and
  ``avatarThumb``. We produce the same from the stored raw payload
  (:func:`dylive.decode.protojson.to_protojson`, the same JSON mapping), decoded with our
  ``webcast.proto``: fields our schema does not declare are absent; ``avatarThumb`` is empty.
  Where douyinLive's schema (jwwsjlm/douyinlive-proto) names a field differently, the frame
  follows it (:func:`douyinlive_names`): a text piece's field 3 is ``valueRef`` (our
  ``string_value``), and its field 4 (our ``user_value``), which douyinLive's schema does not
  declare, is left out. ``RoomIntroMessage.style`` is a uint64 in both schemas (a JSON string),
  ``ChatMessage.eventTime`` and ``User.webcastUid`` come out whenever Douyin sent them.
- system frames ``{"type": "system", "event": "live_status", "code": ..., ...}`` when the room
  is online, offline or ended, or not found (then the connection is closed).

A text ``ping`` from the client is answered with a text ``pong``, as douyinLive does.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import orjson

from dylive.decode.protojson import to_protojson
from dylive.store import EventLog, StoredMessage

log = logging.getLogger(__name__)

_STATUS: dict[str, tuple[str, str, str, str]] = {
    # code: (status, status_text, message, suggestion)
    "ROOM_ONLINE": (
        "online",
        "直播间已开播",
        "直播间已开播，后续将开始推送弹幕、礼物、点赞等直播消息",
        "客户端可以开始正常处理直播消息",
    ),
    "ROOM_OFFLINE": (
        "offline",
        "直播间未开播",
        "直播间当前未开播，服务端会保持连接并继续轮询",
        "客户端不需要重连，保持当前 WebSocket 连接等待开播通知",
    ),
    "ROOM_ENDED": (
        "ended",
        "直播间已下播",
        "直播间已经下播，服务端会保持连接并等待再次开播",
        "客户端不需要重连，保持当前 WebSocket 连接等待下一次开播",
    ),
    "ROOM_NOT_FOUND": (
        "not_found",
        "直播间不存在或房间号无效",
        "直播间不存在或房间号无效，已关闭连接",
        "请检查直播间ID是否输入正确",
    ),
}


def status_frame(
    code: str, live_id: str, *, live_name: str = "", title: str = "", retry: int = 30
) -> bytes:
    """A ``live_status`` system frame (codes: ROOM_ONLINE, ROOM_OFFLINE, ROOM_ENDED,
    ROOM_NOT_FOUND)."""
    status, text, message, suggestion = _STATUS[code]
    frame: dict[str, Any] = {
        "type": "system",
        "event": "live_status",
        "code": code,
        "valid": code != "ROOM_NOT_FOUND",
        "live": code == "ROOM_ONLINE",
        "status": status,
        "status_text": text,
        "message": message,
        "suggestion": suggestion,
    }
    if code != "ROOM_NOT_FOUND":
        frame.update(room_id=live_id, live_name=live_name, title=title, avatar_thumb="")
    if code in ("ROOM_OFFLINE", "ROOM_ENDED"):
        frame["retry_interval_seconds"] = retry
    if code == "ROOM_ENDED":
        frame["ended"] = True
    return orjson.dumps(frame)


def message_frame(method: str, raw: bytes, *, live_name: str, title: str) -> bytes | None:
    """The business frame of one stored message (None when the method is not in our schema or
    the payload does not parse)."""
    data = to_protojson(method, raw)
    if data is None:
        return None
    douyinlive_names(data)
    data.update(method=method, livename=live_name, title=title, avatarThumb="")
    return orjson.dumps(data)


def douyinlive_names(node: Any) -> None:
    """Rename, in place, what douyinLive's schema names differently (see the module doc)."""
    if isinstance(node, list):
        for item in node:
            douyinlive_names(item)
        return
    if not isinstance(node, dict):
        return
    pieces = node.get("pieces")
    if isinstance(pieces, list):
        node["pieces"] = [_piece(p) if isinstance(p, dict) else p for p in pieces]
    for key, value in node.items():
        if key != "pieces" and isinstance(value, dict | list):
            douyinlive_names(value)


def _piece(piece: dict[str, Any]) -> dict[str, Any]:
    """A text piece with douyinLive's names: ``valueRef`` for field 3, no field 4."""
    out: dict[str, Any] = {}
    for key, value in piece.items():
        if key == "stringValue":
            out["valueRef"] = value
        elif key != "userValue":
            douyinlive_names(value)
            out[key] = value
    return out


class FrameCache:
    """Converted frames by ``(room_id, seq)``, shared by every client of a room (bounded)."""

    def __init__(self, size: int = 4096) -> None:
        self.size = size
        self._frames: OrderedDict[tuple[int, int], bytes | None] = OrderedDict()
        self.hits = 0

    def get(self, key: tuple[int, int]) -> tuple[bool, bytes | None]:
        if key in self._frames:
            self.hits += 1
            self._frames.move_to_end(key)
            return True, self._frames[key]
        return False, None

    def put(self, key: tuple[int, int], frame: bytes | None) -> None:
        self._frames[key] = frame
        if len(self._frames) > self.size:
            self._frames.popitem(last=False)


CONTROL = "WebcastControlMessage"


def is_end(message: StoredMessage) -> bool:
    """Whether a stored message is the control message that ends the broadcast."""
    if message.method != CONTROL:
        return False
    try:
        payload = orjson.loads(message.rendered).get("payload", {})
    except orjson.JSONDecodeError:
        return False
    return bool(payload.get("control", {}).get("ended"))


class DouyinLiveFormat:
    """Feed frames for douyinLive clients: one business frame per message, from the raw payload
    (fetched once per room and seq through a shared :class:`FrameCache`), and ``ROOM_ENDED``."""

    def __init__(
        self,
        store: EventLog,
        room_id: int,
        live_id: str,
        *,
        live_name: str,
        title: str,
        cache: FrameCache,
    ) -> None:
        self.store = store
        self.room_id = room_id
        self.live_id = live_id
        self.live_name = live_name
        self.title = title
        self.cache = cache
        self.ended = False

    def wanted(self, messages: Sequence[StoredMessage]) -> Sequence[StoredMessage]:
        return messages  # douyinLive's clients take every method

    async def frames(self, messages: Sequence[StoredMessage], position: int) -> list[str]:
        found: dict[int, bytes | None] = {}
        missing: list[StoredMessage] = []
        for m in messages:
            hit, frame = self.cache.get((self.room_id, m.seq))
            if hit:
                found[m.seq] = frame
            else:
                missing.append(m)
        if missing:
            found.update(await self._convert(missing))
        out = [frame.decode() for m in messages if (frame := found.get(m.seq)) is not None]
        if any(is_end(m) for m in messages):
            self.ended = True
            end = status_frame(
                "ROOM_ENDED", self.live_id, live_name=self.live_name, title=self.title
            )
            out.append(end.decode())
        return out

    async def _convert(self, missing: list[StoredMessage]) -> dict[int, bytes | None]:
        last = missing[-1].seq
        rows = await self.store.messages_of(
            self.room_id, {m.method for m in missing}, missing[0].seq - 1
        )
        raws = {seq: (method, raw) for seq, _msg_id, method, raw in rows if seq <= last}
        out: dict[int, bytes | None] = {}
        for m in missing:
            method, raw = raws.get(m.seq, (m.method, b""))
            frame = message_frame(method, raw, live_name=self.live_name, title=self.title)
            self.cache.put((self.room_id, m.seq), frame)
            out[m.seq] = frame
        return out

    def is_ended(self) -> bool:
        return self.ended

    def heartbeat(self, position: int) -> str | None:
        return None

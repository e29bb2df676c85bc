"""The Douyin of 2026: behaviours public reports show, each switchable per room (docs/simulator.md).

All off by default (the simulator then behaves as before); ``dylive sim --era 2026`` turns every
one on except ``login_gift_limit`` (one report only: opt-in). Per room at run time:
``POST /__sim/rooms/{web_rid}/era`` (or ``/__sim/era`` for every room) with the field names below.

- ``mask_guests``: guests (no valid login) see viewers masked: ``id``/``short_id`` 111111,
  nickname = first character + ``***``, ``sec_uid`` and ``display_id`` empty; the stable id is
  ``webcast_uid`` (User field 73, also sent as ``id_str``), derived from (web_rid, real uid), so
  it is stable within a room and differs between rooms. The anchor is not masked.
- ``silent_cookieless``: a push socket that sent no cookie (no ``ttwid``, no login) is accepted
  and acked but carries only heartbeats and RoomStats/RoomUserSeq.
- ``double_gifts``: the last message of each gift send is followed by a second copy: new
  msg_id, same group_id / repeat_count / combo_count / group_count / user, ``repeat_end`` 1 (the
  first copy then has ``repeat_end`` 0). The copy is logged with ``copy_of`` and adds nothing to
  the totals.
- ``login_gift_limit`` (N > 0): a logged-in push socket gets only its first N gift messages.
- ``wire_2026``: cursors ``t-<ms>_r-<last msg_id>_d-1_u-1_h-<first msg_id>_rdc-2`` and an
  ``im-live_cursor`` push header; ChatMessage.event_time (unix s) on chats; ``__ac_nonce`` is
  ``0`` + hex(unix time) + 12 hex; refusals carry ``connection: keep-alive``, no content type,
  ``x-tt-logid`` and ``x-tt-trace-*`` headers.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import secrets
import time
from dataclasses import dataclass
from typing import Any

from dylive.proto import webcast_pb2 as pb

from .builders import PAYLOAD_TYPES

MASKED_ID = 111111
ERAS = ("2021", "2026")
_BOOLS = ("mask_guests", "silent_cookieless", "double_gifts", "wire_2026")


@dataclass(frozen=True, slots=True)
class Era:
    """Per-room switches of the 2026 behaviours (see the module docstring)."""

    mask_guests: bool = False
    silent_cookieless: bool = False
    double_gifts: bool = False
    login_gift_limit: int = 0  # 0 = off
    wire_2026: bool = False

    @classmethod
    def named(cls, era: str) -> Era:
        """``2026``: every 2026 behaviour except the opt-in ``login_gift_limit``; ``2021``: none."""
        if era not in ERAS:
            raise ValueError(f"era must be one of {', '.join(ERAS)}")
        if era == "2021":
            return cls()
        return cls(mask_guests=True, silent_cookieless=True, double_gifts=True, wire_2026=True)

    def merged(self, changes: dict[str, Any]) -> Era:
        """A copy with ``changes`` applied (``reset: true`` first turns everything off; ``era``:
        start from a named era). ValueError for unknown names or bad values."""
        if not isinstance(changes, dict):
            raise ValueError("era settings must be a JSON object")
        base = self
        if changes.get("reset"):
            base = Era()
        if "era" in changes:
            base = Era.named(str(changes["era"]))
        values: dict[str, Any] = {}
        for key, value in changes.items():
            if key in ("reset", "era"):
                continue
            if key in _BOOLS:
                if not isinstance(value, bool):
                    raise ValueError(f"{key} must be true or false")
            elif key == "login_gift_limit":
                if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 10**6:
                    raise ValueError("login_gift_limit must be an integer >= 0")
            else:
                names = ", ".join([*_BOOLS, "login_gift_limit", "era", "reset"])
                raise ValueError(f"unknown era setting {key!r}; known: {names}")
            values[key] = value
        return dataclasses.replace(base, **values)

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


# ---------------------------------------------------------------- masked users


def webcast_uid(web_rid: str, uid: int) -> str:
    """The per-room opaque id a masked user carries (same user, same room → same value)."""
    digest = hashlib.sha256(f"{web_rid}:{uid}".encode()).digest()
    return base64.urlsafe_b64encode(digest[:18]).decode()


def masked_nickname(nickname: str) -> str:
    return (nickname[:1] or "用") + "***"


def _mask_user(user: pb.User, web_rid: str, anchor_id: int, names: dict[str, str]) -> None:
    if not user.id or user.id in (MASKED_ID, anchor_id):
        return
    token = webcast_uid(web_rid, user.id)
    masked = masked_nickname(user.nickname)
    names[user.nickname] = masked
    names[str(user.id)] = str(MASKED_ID)
    user.id = user.short_id = MASKED_ID
    user.nickname = user.desensitized_nickname = masked
    user.sec_uid = user.display_id = ""
    user.webcast_uid = user.id_str = token


def _walk(msg: Any, web_rid: str, anchor_id: int, names: dict[str, str]) -> None:
    for fd, value in msg.ListFields():
        if fd.message_type is None:
            continue
        items = value if fd.is_repeated else [value]
        if fd.message_type.GetOptions().map_entry:
            items = [v for v in value.values() if hasattr(v, "ListFields")]
        for item in items:
            if isinstance(item, pb.User):
                _mask_user(item, web_rid, anchor_id, names)
            _walk(item, web_rid, anchor_id, names)


def mask_payload(method: str, payload: bytes, web_rid: str, anchor_id: int) -> bytes:
    """The payload as a guest sees it under ``mask_guests`` (unknown methods are unchanged)."""
    cls = PAYLOAD_TYPES.get(method)
    if cls is None or not payload:
        return payload
    msg = cls()
    msg.ParseFromString(payload)
    names: dict[str, str] = {}
    _walk(msg, web_rid, anchor_id, names)
    if not names:
        return payload
    common = msg.common
    for real, masked in names.items():
        if real and common.describe:
            common.describe = common.describe.replace(real, masked)
    if isinstance(msg, pb.MemberMessage) and msg.user_id and msg.user_id != anchor_id:
        msg.user_id = MASKED_ID
    if isinstance(msg, pb.GiftMessage):
        for real, masked in names.items():
            msg.trace_id = msg.trace_id.replace(f"_{real}_", f"_{masked}_")
    data: bytes = msg.SerializeToString()
    return data


# ---------------------------------------------------------------- wire details


def cursor_2026(now_ms: int, last_msg_id: int, head_msg_id: int) -> str:
    """``t-<ms>_r-<last msg_id>_d-1_u-1_h-<head msg_id>_rdc-2`` (a 2022 push frame's shape)."""
    return f"t-{now_ms}_r-{last_msg_id}_d-1_u-1_h-{head_msg_id or last_msg_id}_rdc-2"


LIVE_CURSOR = "d-1_u-1"


def ac_nonce_2026(now: float | None = None) -> str:
    """``0`` + hex(unix time) + 12 hex: 21 characters, as real ``__ac_nonce`` cookies are."""
    ts = int(time.time() if now is None else now)
    return f"0{ts:08x}{secrets.token_hex(6)}"


def refusal_headers() -> dict[str, str]:
    """What a real refusal carries besides its status: keep-alive and the x-tt-* trace headers."""
    stamp = time.strftime("%Y%m%d%H%M%S", time.gmtime())
    logid = f"{stamp}{secrets.token_hex(13).upper()}"
    return {
        "connection": "keep-alive",
        "x-tt-logid": logid,
        "x-tt-trace-host": "01" + secrets.token_hex(40),
        "x-tt-trace-id": f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-01",
        "x-tt-trace-tag": "id=03;cdn-cache=miss;type=dyn",
    }

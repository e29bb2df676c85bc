"""Continuation tokens the simulator issues and understands.

A *position* is the ``seq`` of the last message a client has (0 = none): resuming from
position ``p`` delivers log entries with ``seq > p``. It travels in three shapes:

- cursor (im/fetch and push, Douyin's 2021 format): ``<now_ms>_<last msg_id>_1_1``;
  the server maps the msg_id back to its log position.
- im/fetch internal_ext:
  ``fetch_time:<ms>|start_time:<ms>|seq:<pos>|next_cursor:<cursor>|door:1-n35|wss_info:0-0-0-0``.
- push internal_ext: ``internal_src:pushserver|wss_push_room_id:<room_id>|wss_push_did:<did>|
  first_req_ms:<ms>|seq:<pos>|wss_msg_type:r|wrds_v:<19 digits>`` (one line).

- cursor, 2026 shape (era ``wire_2026``): ``t-<now_ms>_r-<last msg_id>_d-1_u-1_h-<msg_id>_rdc-2``;
  its ``r-`` part is read the same way, whatever the order of the parts.

internal_ext wins over cursor. Tokens the simulator did not issue (e.g. a client's default
``internal_src:dim|…`` ext or a ``d-1_u-1_…`` cursor) carry no position: the client starts "now".
"""

from __future__ import annotations

import re

_CURSOR_RE = re.compile(r"^(\d{10,13})_(\d+)_1_1$")
_CURSOR_2026_RE = re.compile(r"(?:^|_)r-(\d+)(?:_|$)")
FETCH_DOOR = "1-n35"


def make_cursor(now_ms: int, last_msg_id: int) -> str:
    return f"{now_ms}_{last_msg_id}_1_1"


def fetch_ext(now_ms: int, start_ms: int, pos: int, cursor: str) -> str:
    return (
        f"fetch_time:{now_ms}|start_time:{start_ms}|seq:{pos}|next_cursor:{cursor}"
        f"|door:{FETCH_DOOR}|wss_info:0-0-0-0"
    )


def push_ext(room_id: int, did: str, first_req_ms: int, pos: int, wrds_v: int) -> str:
    return (
        f"internal_src:pushserver|wss_push_room_id:{room_id}|wss_push_did:{did}"
        f"|first_req_ms:{first_req_ms}|seq:{pos}|wss_msg_type:r|wrds_v:{wrds_v}"
    )


def _fields(ext: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for part in ext.split("|"):
        key, sep, value = part.partition(":")
        if sep:
            out[key] = value
    return out


def ext_position(ext: str) -> int | None:
    """The position in an internal_ext this simulator issued, else None."""
    if not ext:
        return None
    f = _fields(ext)
    ours = f.get("internal_src") == "pushserver" or f.get("door") == FETCH_DOOR
    seq = f.get("seq", "")
    if ours and seq.isdigit():
        return int(seq)
    return None


def cursor_msg_id(cursor: str, shape_2026: bool = False) -> int | None:
    """The last msg_id of a cursor in the 2021 format (or the 2026 one when ``shape_2026``: a
    room in era ``wire_2026`` issues those), else None."""
    cursor = cursor or ""
    m = _CURSOR_RE.match(cursor)
    if m:
        return int(m.group(2))
    if shape_2026 and cursor.endswith("_rdc-2") and cursor.startswith(("t-", "d-")):
        r = _CURSOR_2026_RE.search(cursor)
        return int(r.group(1)) if r else None
    return None

"""Continuation tokens in Douyin's 2021 im/fetch formats, carrying our store position.

Every number in them is 1..20 ASCII digits (seq within signed 64 bits, msg_id within unsigned
64 bits); anything else is a :class:`CursorError`.

- ``cursor``: ``<now_ms>_<last msg_id>_<seq>_1`` — Douyin's ``<ms>_<id>_1_1`` shape; the third
  field is the store seq the next page continues after.
- ``internal_ext``: ``fetch_time:<ms>|start_time:<ms>|ack_ids:|flag:1|seq:<seq>|
  next_cursor:<cursor>|door:1-n1`` — Douyin's keys, with ``seq`` and ``next_cursor`` ours.

Echoing either back continues exactly after the last delivered message.
"""

from __future__ import annotations

from dataclasses import dataclass

from dylive.numbers import I64_MAX, U64_MAX, ascii_uint


class CursorError(ValueError):
    """A cursor or internal_ext that this server did not write."""


@dataclass(frozen=True, slots=True)
class Position:
    seq: int
    msg_id: int = 0
    now: int = 0


def make_cursor(now: int, msg_id: int, seq: int) -> str:
    return f"{now}_{msg_id}_{seq}_1"


def make_internal_ext(now: int, start: int, cursor: str, seq: int) -> str:
    return (
        f"fetch_time:{now}|start_time:{start}|ack_ids:|flag:1|seq:{seq}"
        f"|next_cursor:{cursor}|door:1-n1"
    )


def parse_cursor(cursor: str) -> Position:
    """The position a cursor written by :func:`make_cursor` names."""
    text = cursor.strip()
    parts = text.split("_")
    # four runs of 1..20 ASCII digits: ASCII, four parts, each 1..20 long, only digits left
    if not (
        len(parts) == 4
        and text.isascii()
        and 0 < len(parts[0]) <= 20
        and 0 < len(parts[1]) <= 20
        and 0 < len(parts[2]) <= 20
        and 0 < len(parts[3]) <= 20
        and text.replace("_", "").isdigit()
    ):
        raise CursorError(f"malformed cursor: {cursor[:80]!r}")
    now, msg_id, seq = int(parts[0]), int(parts[1]), int(parts[2])
    if seq > I64_MAX or msg_id > U64_MAX:
        raise CursorError(f"cursor out of range: {cursor[:80]!r}")
    return Position(seq=seq, msg_id=msg_id, now=now)


def parse_internal_ext(ext: str) -> Position:
    """The position an internal_ext written by :func:`make_internal_ext` names."""
    fields: dict[str, str] = {}
    for item in ext.strip().split("|"):
        key, sep, value = item.partition(":")
        if sep:
            fields[key] = value
    if "next_cursor" in fields:
        return parse_cursor(fields["next_cursor"])
    seq = ascii_uint(fields.get("seq", ""))
    if seq is not None and seq <= I64_MAX:
        return Position(seq=seq)
    raise CursorError(f"malformed internal_ext: {ext[:80]!r}")

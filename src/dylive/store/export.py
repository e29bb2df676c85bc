"""Stream the stored messages of one room as JSON lines or CSV, in seq order.

Pages through :meth:`EventStore.read` (keyset on seq), so memory stays bounded by one page
whatever the size of the room.

- ``jsonl``: the stored rendered JSON, byte for byte, one message per line (exact msg_ids).
- ``csv``: :data:`CSV_COLUMNS`; ids as exact decimal digits; ``created_at`` as ISO-8601 local
  time with its UTC offset (``2021-01-28T10:44:57.133+08:00``; the time zone is the machine's,
  ``TZ`` picks another) and ``created_at_ms`` as the exact epoch milliseconds; gift columns
  filled for gift messages (``gift_delta`` when the ledger's delta was rendered, and
  ``gift_diamonds`` = delta × the gift's diamond price), empty otherwise. Text cells that a
  spreadsheet would run as a formula (starting with ``= + - @``, tab or carriage return) are
  prefixed with ``'`` (OWASP's CSV-injection advice); numeric cells are digits only. ``bom``
  starts the file with a UTF-8 byte-order mark, which Excel needs to read UTF-8 (Chinese text)
  as such.
- A :class:`TimeWindow` keeps the messages whose ``created_at`` falls inside it.
"""

from __future__ import annotations

import csv
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TextIO
from urllib.parse import urlsplit

import orjson

from dylive.numbers import ascii_uint

from .base import EventStore, StoredMessage

log = logging.getLogger(__name__)

FORMATS = ("jsonl", "csv")
CSV_COLUMNS = (
    "seq",
    "msg_id",
    "method",
    "room_id",
    "created_at",
    "user_uid",
    "user_nickname",
    "user_unique_id",
    "content",
    "gift_name",
    "gift_count",
    "gift_delta",
    "gift_diamonds",
    "user_webcast_uid",
    "created_at_ms",
)
BOM = "\ufeff"
_U64_MAX = (1 << 64) - 1


async def resolve_room(store: EventStore, ident: str) -> int | None:
    """The room_id named by a room_id, a web_rid or a live URL (``…/<web_rid>``); None if unknown."""
    ident = ident.strip()
    if "://" in ident:
        ident = urlsplit(ident).path.rstrip("/").rpartition("/")[2]
    if not ident:
        return None
    number = ascii_uint(ident)
    if number is not None and 0 < number <= _U64_MAX:
        room_id = number
        if await store.find_room(room_id=room_id) or await store.last_seq(room_id):
            return room_id
    room = await store.find_room(web_rid=ident)
    return room.room_id if room is not None else None


def iso_time(ms: int) -> str:
    """Epoch milliseconds as ISO-8601 local time with its offset, to the millisecond; ``""``
    for 0 (no time on the wire)."""
    if ms <= 0:
        return ""
    return datetime.fromtimestamp(ms / 1000).astimezone().isoformat(timespec="milliseconds")


def parse_time(text: str) -> int:
    """Epoch milliseconds from ``2026-12-07``, ``2026-12-07T10:00[:00][+08:00]`` (no offset:
    local time) or epoch milliseconds as digits; ValueError otherwise."""
    text = text.strip()
    if text.isdigit():
        return int(text)
    try:
        moment = datetime.fromisoformat(text.replace(" ", "T", 1))
    except ValueError:
        raise ValueError(
            f"{text[:40]!r} is not a time: give 2026-12-07, 2026-12-07T20:30, "
            "2026-12-07T20:30+08:00 or epoch milliseconds"
        ) from None
    return int(moment.astimezone().timestamp() * 1000)


@dataclass(frozen=True, slots=True)
class TimeWindow:
    """Messages created at ``start`` ≤ created_at < ``end`` (ms; 0 = open on that side)."""

    start: int = 0
    end: int = 0

    def __contains__(self, created_at: object) -> bool:
        if not isinstance(created_at, int):
            return False
        return created_at >= self.start and (not self.end or created_at < self.end)


async def stream_messages(
    store: EventStore,
    room_id: int,
    *,
    since_seq: int = 0,
    methods: frozenset[str] | None = None,
    page_size: int = 500,
    window: TimeWindow | None = None,
) -> AsyncIterator[StoredMessage]:
    """Async iterator over the room's messages after ``since_seq`` (inside ``window`` when
    given), one page in memory."""
    after = since_seq
    while True:
        page = await store.read(room_id, after, page_size, methods)
        for message in page.messages:
            if window is None or message.created_at in window:
                yield message
        if page.last_seq <= after:
            return
        after = page.last_seq


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralise(text: str) -> str:
    """A text cell a spreadsheet shows as text: ``'`` before a formula-like first character."""
    return "'" + text if text.startswith(_FORMULA_START) else text


def _int_text(value: Any) -> str:
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else ""


def _obj(parent: Any, key: str) -> dict[str, Any]:
    value = parent.get(key) if isinstance(parent, dict) else None
    return value if isinstance(value, dict) else {}


def csv_row(message: StoredMessage) -> list[str]:
    """One CSV row (:data:`CSV_COLUMNS`) from a stored message's rendered JSON."""
    try:
        body = orjson.loads(message.rendered)
    except orjson.JSONDecodeError:
        body = None
    payload = _obj(body, "payload")
    user, gift = _obj(payload, "user"), _obj(payload, "gift")
    delta, price = gift.get("delta"), gift.get("diamond_count")
    value = delta * price if isinstance(delta, int) and isinstance(price, int) else None
    return [
        str(message.seq),
        str(message.msg_id),
        neutralise(message.method),
        str(message.room_id),
        iso_time(message.created_at),
        _int_text(user.get("uid")),
        neutralise(str(user.get("nickname", ""))),
        neutralise(str(user.get("unique_id", ""))),
        neutralise(str(payload.get("content", ""))),
        neutralise(str(gift.get("name", ""))),
        _int_text(gift.get("count")),
        _int_text(delta),
        _int_text(value),
        neutralise(str(user.get("webcast_uid", ""))),
        str(message.created_at),
    ]


async def export_room(
    store: EventStore,
    room_id: int,
    out: TextIO,
    *,
    fmt: str = "jsonl",
    since_seq: int = 0,
    methods: frozenset[str] | None = None,
    page_size: int = 500,
    window: TimeWindow | None = None,
    bom: bool = False,
) -> int:
    """Write the room's messages to ``out`` (a text stream, ``newline=""`` for CSV); count.
    ``bom``: a CSV starts with a UTF-8 byte-order mark (for Excel)."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}")
    if bom and fmt != "csv":
        raise ValueError("a byte-order mark is for CSV only")
    writer = csv.writer(out, lineterminator="\r\n") if fmt == "csv" else None
    if writer is not None:
        if bom:
            out.write(BOM)
        writer.writerow(CSV_COLUMNS)
    count = 0
    messages = stream_messages(
        store, room_id, since_seq=since_seq, methods=methods, page_size=page_size, window=window
    )
    async for message in messages:
        if writer is not None:
            writer.writerow(csv_row(message))
        else:
            out.write(message.rendered.decode("utf-8", "replace"))
            out.write("\n")
        count += 1
    log.debug("export: room %s: %s messages (%s)", room_id, count, fmt)
    return count

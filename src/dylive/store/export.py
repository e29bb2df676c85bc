"""Stream the stored messages of one room as JSON lines or CSV, in seq order.

Pages through :meth:`EventStore.read` (keyset on seq), so memory stays bounded by one page
whatever the size of the room.

- ``jsonl``: the stored rendered JSON, byte for byte, one message per line (exact msg_ids).
- ``csv``: :data:`CSV_COLUMNS`; ids as exact decimal digits; gift columns filled for gift
  messages (``gift_delta`` when the ledger's delta was rendered), empty otherwise. Text cells
  that a spreadsheet would run as a formula (starting with ``= + - @``, tab or carriage return)
  are prefixed with ``'`` (OWASP's CSV-injection advice); numeric cells are digits only.
"""

from __future__ import annotations

import csv
import logging
from collections.abc import AsyncIterator
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
    "user_webcast_uid",
)
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


async def stream_messages(
    store: EventStore,
    room_id: int,
    *,
    since_seq: int = 0,
    methods: frozenset[str] | None = None,
    page_size: int = 500,
) -> AsyncIterator[StoredMessage]:
    """Async iterator over the room's messages after ``since_seq``, one page in memory."""
    after = since_seq
    while True:
        page = await store.read(room_id, after, page_size, methods)
        for message in page.messages:
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
    return [
        str(message.seq),
        str(message.msg_id),
        neutralise(message.method),
        str(message.room_id),
        str(message.created_at),
        _int_text(user.get("uid")),
        neutralise(str(user.get("nickname", ""))),
        neutralise(str(user.get("unique_id", ""))),
        neutralise(str(payload.get("content", ""))),
        neutralise(str(gift.get("name", ""))),
        _int_text(gift.get("count")),
        _int_text(gift.get("delta")),
        neutralise(str(user.get("webcast_uid", ""))),
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
) -> int:
    """Write the room's messages to ``out`` (a text stream, ``newline=""`` for CSV); count."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}")
    writer = csv.writer(out, lineterminator="\r\n") if fmt == "csv" else None
    if writer is not None:
        writer.writerow(CSV_COLUMNS)
    count = 0
    messages = stream_messages(
        store, room_id, since_seq=since_seq, methods=methods, page_size=page_size
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

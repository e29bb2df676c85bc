"""Parquet export of a room's stored messages (``dylive export --format parquet``; pyarrow).

Typed columns (:func:`schema`): ids are ``uint64`` because Douyin's msg_id, room_id and uid are
unsigned 64-bit on the wire (an ``int64`` column could not hold all of them exactly);
``created_at`` is ``timestamp[ms, UTC]`` (null when the wire had no time); user and gift fields
come from the stored rendered JSON where the message has them and are null elsewhere;
``gift_delta`` is the gift ledger's delta stored with the message.

Fast path: the envelope columns come from the rows, the rendered JSON of a whole page is parsed
by Arrow's JSON reader (C++), not row by row in Python; a page that it rejects (an unexpected
type somewhere) falls back to a per-row parse. Pages are written as row groups as they are read.
"""

from __future__ import annotations

import asyncio
import io
import logging
from pathlib import Path
from typing import Any

import orjson

from dylive.errors import DyliveError
from dylive.store import EventLog, RawRow
from dylive.store.export import TimeWindow

log = logging.getLogger(__name__)

try:  # optional: pip install 'dylive[parquet]'
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.json as pajson
    import pyarrow.parquet as pq
except ImportError:  # pragma: no cover - exercised only without the extra
    pa = None

#: (column, type, path in the rendered JSON's payload) — type names of :func:`_types`.
USER = (
    ("user_uid", "uint64", "uid"),
    ("user_nickname", "string", "nickname"),
    ("user_unique_id", "string", "unique_id"),
    ("user_pay_grade_level", "int32", "pay_grade_level"),
    ("user_fans_club_level", "int32", "fans_club_level"),
    ("user_webcast_uid", "string", "webcast_uid"),  # the stable id of a masked user
)
GIFT = (
    ("gift_id", "int64", "id"),
    ("gift_name", "string", "name"),
    ("gift_diamond_count", "int64", "diamond_count"),
    ("gift_count", "int64", "count"),
    ("gift_group_id", "int64", "group_id"),
    ("gift_delta", "int64", "delta"),
)


def _types() -> dict[str, Any]:
    return {"int64": pa.int64(), "uint64": pa.uint64(), "int32": pa.int32(), "string": pa.string()}


def schema() -> Any:
    """The file's schema (needs pyarrow)."""
    _require()
    t = _types()
    fields = [
        pa.field("seq", pa.int64()),
        pa.field("msg_id", pa.uint64()),
        pa.field("room_id", pa.uint64()),
        pa.field("method", pa.string()),
        pa.field("created_at", pa.timestamp("ms", tz="UTC")),
        *(pa.field(name, t[kind]) for name, kind, _ in USER),
        pa.field("content", pa.string()),
        *(pa.field(name, t[kind]) for name, kind, _ in GIFT),
    ]
    return pa.schema(fields)


def _payload_schema() -> Any:
    """What Arrow's JSON reader extracts from each rendered message (the rest is ignored)."""
    t = _types()
    user = pa.struct([(key, t[kind]) for _, kind, key in USER])
    gift = pa.struct([(key, t[kind]) for _, kind, key in GIFT])
    payload = pa.struct([("content", pa.string()), ("user", user), ("gift", gift)])
    return pa.schema([("payload", payload)])


def _require() -> None:
    if pa is None:
        raise DyliveError("Parquet export needs pyarrow: pip install 'dylive[parquet]'")


def _envelope(rows: list[RawRow], room_id: int) -> list[Any]:
    seqs, msg_ids, methods, created, _ = zip(*rows, strict=True)
    stamps = pa.array(created, pa.int64())
    ts = pa.timestamp("ms", tz="UTC")
    created_at = pc.if_else(pc.equal(stamps, 0), pa.scalar(None, ts), stamps.cast(ts))
    return [
        pa.array(seqs, pa.int64()),
        pa.array(msg_ids, pa.uint64()),
        pa.repeat(pa.scalar(room_id, pa.uint64()), len(rows)),
        pa.array(methods, pa.string()),
        created_at,
    ]


def _payload_fast(rows: list[RawRow], parse: Any) -> list[Any]:
    """[user…, content, gift…] arrays parsed by Arrow from the rows' rendered JSON."""
    text = b"\n".join(r[4] for r in rows)
    table = pajson.read_json(io.BytesIO(text), parse_options=parse)
    content, user, gift = table.column("payload").combine_chunks().flatten()
    return [*user.flatten(), content, *gift.flatten()]


def _payload_slow(rows: list[RawRow]) -> list[Any]:
    """The same arrays, row by row (tolerates anything in the JSON)."""
    t = _types()
    users: list[list[Any]] = [[] for _ in USER]
    gifts: list[list[Any]] = [[] for _ in GIFT]
    contents: list[Any] = []
    for row in rows:
        try:
            payload = orjson.loads(row[4]).get("payload") or {}
        except (orjson.JSONDecodeError, AttributeError):
            payload = {}
        user, gift = payload.get("user") or {}, payload.get("gift") or {}
        for col, (_, _, key) in zip(users, USER, strict=True):
            col.append(user.get(key))
        for col, (_, _, key) in zip(gifts, GIFT, strict=True):
            col.append(gift.get(key))
        content = payload.get("content")
        contents.append(content if isinstance(content, str) else None)
    return [
        *(_array(c, t[kind]) for c, (_, kind, _) in zip(users, USER, strict=True)),
        pa.array(contents, pa.string()),
        *(_array(c, t[kind]) for c, (_, kind, _) in zip(gifts, GIFT, strict=True)),
    ]


def _array(values: list[Any], kind: Any) -> Any:
    try:
        return pa.array(values, kind)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
        return pa.array([None] * len(values), kind)


def _table(rows: list[RawRow], room_id: int, sch: Any, parse: Any) -> Any:
    try:
        payload = _payload_fast(rows, parse)
    except (pa.ArrowInvalid, pa.ArrowTypeError, KeyError):
        log.info("export: a page with unusual JSON; parsing it row by row")
        payload = _payload_slow(rows)
    user, content_gift = payload[: len(USER)], payload[len(USER) :]
    arrays = [*_envelope(rows, room_id), *user, *content_gift]
    return pa.Table.from_arrays(arrays, schema=sch)


async def export_parquet(
    store: EventLog,
    room_id: int,
    path: str | Path,
    *,
    since_seq: int = 0,
    methods: frozenset[str] | None = None,
    page_size: int = 50_000,
    window: TimeWindow | None = None,
) -> int:
    """Write the room's messages after ``since_seq`` (created inside ``window`` when given) to
    the Parquet file ``path``; count."""
    _require()
    sch = schema()
    parse = pajson.ParseOptions(
        explicit_schema=_payload_schema(), unexpected_field_behavior="ignore"
    )
    count = 0
    with pq.ParquetWriter(str(path), sch, compression="zstd") as writer:
        # pipelined: the next page is read while this one is converted and written (the Arrow
        # work releases the GIL in a thread)
        pending = asyncio.ensure_future(store.scan(room_id, since_seq, page_size, rendered=True))
        while rows := await pending:
            pending = asyncio.ensure_future(
                store.scan(room_id, rows[-1][0], page_size, rendered=True)
            )
            if methods is not None:
                rows = [r for r in rows if r[2] in methods]
            if window is not None:
                rows = [r for r in rows if r[3] in window]
            if rows:
                await asyncio.to_thread(_write, writer, rows, room_id, sch, parse)
                count += len(rows)
    log.info("export: room %s: %s messages (parquet)", room_id, count)
    return count


def _write(writer: Any, rows: list[RawRow], room_id: int, sch: Any, parse: Any) -> None:
    writer.write_table(_table(rows, room_id, sch, parse))

"""Parquet export of a room's stored messages (``dylive export --format parquet``; pyarrow).

Typed columns (:func:`schema`): ids are ``uint64`` because Douyin's msg_id, room_id and uid are
unsigned 64-bit on the wire (an ``int64`` column could not hold all of them exactly);
``created_at`` is ``timestamp[ms, UTC]`` (null when the wire had no time); user and gift fields
come from the stored rendered JSON where the message has them and are null elsewhere;
``gift_delta`` is the gift ledger's delta stored with the message.

Fast path: each page comes from the store as two blocks of bytes built by the database
(:meth:`EventLog.scan_columns`: the envelope columns as JSON arrays, and the stored rendered JSON
of every row as JSON lines), which Arrow's JSON reader (C++) parses into the typed columns at
once: no Python object per message. A page that it rejects (an unexpected type or invalid JSON
somewhere) is read again as rows and parsed row by row. Pages are written as row groups as they
are read; the next page is read while this one is converted and written.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import orjson

from dylive.errors import DyliveError
from dylive.store import ColumnsPage, EventLog, RawRow
from dylive.store.export import TimeWindow

log = logging.getLogger(__name__)

try:  # optional: pip install 'dylive[parquet]'
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.json as pajson
    import pyarrow.parquet as pq
except ImportError:  # pragma: no cover - exercised only without the extra
    pa = None

#: which messages an export keeps: (methods, window), None = every one
Keep = tuple[frozenset[str] | None, TimeWindow | None]

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


def _columns_schema() -> Any:
    """The four arrays of a :class:`ColumnsPage`'s ``columns``."""
    kinds = {"seq": pa.int64(), "msg_id": pa.uint64(), "method": pa.string()}
    kinds["created_at"] = pa.int64()
    return pa.schema([(name, pa.list_(kind)) for name, kind in kinds.items()])


class _Parse:
    """Arrow's JSON parse options of the two blocks of a :class:`ColumnsPage`."""

    def __init__(self) -> None:
        self.columns = pajson.ParseOptions(explicit_schema=_columns_schema())
        self.rendered = pajson.ParseOptions(
            explicit_schema=_payload_schema(), unexpected_field_behavior="ignore"
        )


def _from_columns(page: ColumnsPage, room_id: int, sch: Any, parse: _Parse, keep: Keep) -> Any:
    """The page's table (its rows that ``keep`` keeps), parsed by Arrow; raises ``ValueError``
    (or an Arrow error) when Arrow rejects the JSON."""
    whole = pajson.ReadOptions(block_size=len(page.columns) + 1)  # one object: one block
    head = pajson.read_json(
        pa.BufferReader(page.columns), read_options=whole, parse_options=parse.columns
    )
    seq, msg_id, method, created = (head.column(i).chunk(0).flatten() for i in range(4))
    body = pajson.read_json(pa.BufferReader(page.rendered), parse_options=parse.rendered)
    if not len(seq) == len(msg_id) == len(method) == len(created) == body.num_rows == page.size:
        raise ValueError("a rendered JSON spans lines or none")  # rows would not line up
    content, user, gift = body.column("payload").combine_chunks().flatten()
    envelope = _envelope(seq, msg_id, method, created, room_id)
    table = pa.Table.from_arrays([*envelope, *user.flatten(), content, *gift.flatten()], schema=sch)
    mask = _mask(method, created, *keep)
    if mask is not None:
        table = table.filter(mask)
    if len(seq) > 1 and not pc.all(pc.greater(seq[1:], seq[:-1])).as_py():
        table = table.sort_by("seq")  # the store promises seq order; keep it
    return table


def _envelope(seq: Any, msg_id: Any, method: Any, stamps: Any, room_id: int) -> list[Any]:
    ts = pa.timestamp("ms", tz="UTC")
    created_at = pc.if_else(pc.equal(stamps, 0), pa.scalar(None, ts), stamps.cast(ts))
    return [
        seq,
        msg_id,
        pa.repeat(pa.scalar(room_id, pa.uint64()), len(seq)),
        method,
        created_at,
    ]


def _from_rows(rows: list[RawRow], room_id: int, sch: Any, keep: Keep) -> Any:
    """The same table from rows, their rendered JSON parsed row by row (tolerates anything)."""
    _, _, methods, created, _ = zip(*rows, strict=True)
    mask = _mask(pa.array(methods, pa.string()), pa.array(created, pa.int64()), *keep)
    if mask is not None:
        rows = [row for row, kept in zip(rows, mask.to_pylist(), strict=True) if kept]
    if not rows:
        return sch.empty_table()
    seqs, msg_ids, methods, created, _ = zip(*rows, strict=True)
    envelope = _envelope(
        pa.array(seqs, pa.int64()),
        pa.array(msg_ids, pa.uint64()),
        pa.array(methods, pa.string()),
        pa.array(created, pa.int64()),
        room_id,
    )
    return pa.Table.from_arrays([*envelope, *_payload_slow(rows)], schema=sch)


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


def _mask(
    method: Any, stamps: Any, methods: frozenset[str] | None, window: TimeWindow | None
) -> Any:
    """Which rows are in ``methods`` and created inside ``window`` (``stamps``: created_at as
    stored, ms, 0 when the wire had no time); None when every row is."""
    mask = None
    if methods is not None:
        mask = pc.is_in(method, value_set=pa.array(sorted(methods), pa.string()))
    if window is not None:
        inside = pc.greater_equal(stamps, window.start)
        if window.end:
            inside = pc.and_(inside, pc.less(stamps, window.end))
        mask = inside if mask is None else pc.and_(mask, inside)
    return mask


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
    parse = _Parse()
    count = 0
    after = since_seq
    keep: Keep = (methods, window)
    with pq.ParquetWriter(str(path), sch, compression="zstd") as writer:

        def convert(page: ColumnsPage) -> Any:
            """The page's table (Arrow's work releases the GIL), or None when rejected."""
            try:
                return _from_columns(page, room_id, sch, parse, keep)
            except (ValueError, pa.ArrowTypeError, KeyError):  # ArrowInvalid is a ValueError
                return None

        def write(table: Any) -> int:
            if table.num_rows:
                writer.write_table(table)
            return int(table.num_rows)

        # pipelined: the next page is read (by the database) while this one is converted
        pending = asyncio.ensure_future(store.scan_columns(room_id, after, page_size))
        try:
            while (page := await pending).size:
                pending = asyncio.ensure_future(
                    store.scan_columns(room_id, page.last_seq, page_size)
                )
                converted = await asyncio.to_thread(convert, page)
                if converted is None:
                    log.info("export: a page with unusual JSON; parsing it row by row")
                    rows = await store.scan(room_id, after, page.size, rendered=True)
                    rows = [r for r in rows if r[0] <= page.last_seq]
                    converted = await asyncio.to_thread(_from_rows, rows, room_id, sch, keep)
                count += await asyncio.to_thread(write, converted)
                after = page.last_seq
        finally:
            pending.cancel()
    log.info("export: room %s: %s messages (parquet)", room_id, count)
    return count

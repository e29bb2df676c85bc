"""Parquet export of a room's stored messages (``dylive export --format parquet``; pyarrow).

Typed columns (:func:`schema`): ids are ``uint64`` because Douyin's msg_id, room_id and uid are
unsigned 64-bit on the wire (an ``int64`` column could not hold all of them exactly);
``created_at`` is ``timestamp[ms, UTC]`` (null when the wire had no time); user and gift fields
come from the stored rendered JSON where the message has them and are null elsewhere;
``gift_delta`` is the gift ledger's delta stored with the message.

Fast path: each page comes from the store in bulk, either as Arrow columns
(:meth:`EventLog.arrow_pages`: PostgreSQL with ADBC's driver, binary COPY decoded in C++) or as
two blocks of bytes built by the database (:meth:`EventLog.scan_columns`: the envelope columns
as JSON arrays, and the stored rendered JSON of every row as JSON lines); Arrow's JSON reader
(C++) parses the rendered JSON into the typed columns at once: no Python object per message. A
page that it rejects (an unexpected type or invalid JSON somewhere) is read again as rows and
parsed row by row. Pages are written as row groups as they are read, in a pipeline: the next
page is read while this one is converted and the previous one written.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path
from typing import Any

import orjson

from dylive.errors import DyliveError
from dylive.store import ArrowPages, ColumnsPage, EventLog, RawRow
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
    """Arrow's JSON parse options of the two blocks of a :class:`ColumnsPage` (and the rendered
    JSON of an Arrow page), and the scalars that end an Arrow page's rendered JSON with a
    newline."""

    def __init__(self) -> None:
        self.columns = pajson.ParseOptions(explicit_schema=_columns_schema())
        self.rendered = pajson.ParseOptions(
            explicit_schema=_payload_schema(), unexpected_field_behavior="ignore"
        )
        self.nothing, self.newline = pa.scalar(b"", pa.binary()), pa.scalar(b"\n", pa.binary())


def _from_columns(page: ColumnsPage, room_id: int, sch: Any, parse: _Parse, keep: Keep) -> Any:
    """The page's table (its rows that ``keep`` keeps), parsed by Arrow; raises ``ValueError``
    (or an Arrow error) when Arrow rejects the JSON."""
    whole = pajson.ReadOptions(block_size=len(page.columns) + 1)  # one object: one block
    head = pajson.read_json(
        pa.BufferReader(page.columns), read_options=whole, parse_options=parse.columns
    )
    seq, msg_id, method, created = (head.column(i).chunk(0).flatten() for i in range(4))
    body = pajson.read_json(pa.BufferReader(page.rendered), parse_options=parse.rendered)
    if not len(seq) == len(msg_id) == len(method) == len(created) == page.size:
        raise ValueError("the envelope columns do not line up")
    return _table(seq, msg_id, method, created, body, room_id, sch, keep)


def _from_arrow(page: Any, room_id: int, sch: Any, parse: _Parse, keep: Keep) -> Any:
    """The same table from a page of :class:`ArrowPages` (the store's Arrow columns): the
    rendered JSON, each followed by a newline, parsed by Arrow's JSON reader as one block of
    JSON lines; msg_id's stored two's complement read back as uint64."""
    seq, msg_id, method, created, rendered = (page.column(i).combine_chunks() for i in range(5))
    lines = pc.binary_join_element_wise(rendered.cast(pa.binary()), parse.nothing, parse.newline)
    offsets = pa.Array.from_buffers(
        pa.int32(), len(lines) + 1, [None, lines.buffers()[1]], offset=lines.offset
    )
    start, end = offsets[0].as_py(), offsets[-1].as_py()
    block = lines.buffers()[2].slice(start, end - start)
    body = pajson.read_json(pa.BufferReader(block), parse_options=parse.rendered)
    msg_id = msg_id.cast(pa.uint64(), safe=False)  # two's complement: the unsigned id
    seq, method, created = seq.cast(pa.int64()), method.cast(pa.string()), created.cast(pa.int64())
    return _table(seq, msg_id, method, created, body, room_id, sch, keep)


def _table(
    seq: Any, msg_id: Any, method: Any, created: Any, body: Any, room_id: int, sch: Any, keep: Keep
) -> Any:
    """The file's table from the envelope arrays and the parsed rendered JSON (``body``): its
    rows that ``keep`` keeps, in seq order."""
    if body.num_rows != len(seq):
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
    export = _Export(store, room_id, schema(), _Parse(), (methods, window))
    bulk = store.arrow_pages()
    async with contextlib.AsyncExitStack() as stack:
        if bulk is not None:
            await stack.enter_async_context(bulk)
        writer = stack.enter_context(pq.ParquetWriter(str(path), export.sch, compression="zstd"))
        count = await export.run(bulk, writer, since_seq, page_size)
    log.info("export: room %s: %s messages (parquet)", room_id, count)
    return count


def _retrieved(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()


class _Export:
    """One export's pipeline: page k+2 is read (by the database) while page k+1 is converted
    and page k written (Arrow's work releases the GIL: three threads at once)."""

    def __init__(self, store: EventLog, room_id: int, sch: Any, parse: _Parse, keep: Keep):
        self.store, self.room_id, self.keep = store, room_id, keep
        self.sch, self.parse = sch, parse

    async def run(self, bulk: ArrowPages | None, writer: Any, after: int, size: int) -> int:
        async def read(after: int) -> tuple[int, int, Any]:
            """(rows, last seq, page) from the store's bulk read."""
            if bulk is None:
                page = await self.store.scan_columns(self.room_id, after, size)
                return page.size, page.last_seq, page
            table = await bulk.read(self.room_id, after, size)
            rows = table.num_rows
            return rows, table.column("seq")[-1].as_py() if rows else 0, table

        def write(table: Any) -> int:
            if table.num_rows:
                writer.write_table(table)
            return int(table.num_rows)

        count = 0
        reading = asyncio.ensure_future(read(after))
        writing: asyncio.Future[int] | None = None
        try:
            while (got := await reading)[0]:
                rows, last_seq, page = got
                reading = asyncio.ensure_future(read(last_seq))
                table = await asyncio.to_thread(self.convert, page)
                if table is None:
                    log.info("export: a page with unusual JSON; parsing it row by row")
                    raw = await self.store.scan(self.room_id, after, rows, rendered=True)
                    raw = [r for r in raw if r[0] <= last_seq]
                    table = await asyncio.to_thread(
                        _from_rows, raw, self.room_id, self.sch, self.keep
                    )
                if writing is not None:
                    count += await writing
                writing = asyncio.ensure_future(asyncio.to_thread(write, table))
                after = last_seq
            if writing is not None:
                count += await writing
        finally:
            reading.cancel()  # a bulk reader's close waits for the read itself
            reading.add_done_callback(_retrieved)  # an error after ours: not worth a warning
            if writing is not None and not writing.done():
                await asyncio.wait([writing])  # the writer is closed after its last write
        return count

    def convert(self, page: Any) -> Any:
        """The page's table (Arrow's work releases the GIL), or None when rejected."""
        try:
            if isinstance(page, ColumnsPage):
                return _from_columns(page, self.room_id, self.sch, self.parse, self.keep)
            return _from_arrow(page, self.room_id, self.sch, self.parse, self.keep)
        except (ValueError, pa.ArrowTypeError, KeyError):  # ArrowInvalid is a ValueError
            return None

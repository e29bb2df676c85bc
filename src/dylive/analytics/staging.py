"""A staged compaction of a session's checkpoint parts (pure; the tally's, ``tally.py``).

A compaction rewrites everything that grows with a session (every chatter, gifter, ranked user
and minute) so that the parts before it can be deleted. Written in one part, that was one
serialization of the whole session on the event loop thread (~90 ms at 550k chatters, during
which every other room waits). A :class:`Stage` spreads it over the checkpoints that follow: each
writes a bounded slice (:data:`SLICE` units: a chatter is one, a gifter, ranked user or minute
row :data:`ROW`; or what the checkpoint changed, when that is more) beside what changed, in the same part, and the part carries
``"stage": [start, done]`` (``start``: the seq of the stage's first part). Only the part of the
last slice deletes the parts saved before ``start``, in its own transaction.

Why a load stays exact at every point: parts load in seq order and a later row of a key
replaces an earlier one (chatters are a set). Every key that existed at ``start`` is written by
some slice at a seq >= ``start`` with its value then, and every change after that is in the
part of the checkpoint that made it (a later part); a key new since ``start`` is in the part
that created it. So once the last slice is saved, the parts from ``start`` on hold the whole
tally and the older ones can go. Until then nothing is deleted and the older parts still load.

A stage cut short (the process killed, the compare-and-set lost) resumes on load:
:class:`PartLog` reads the markers and the keys the unfinished stage's parts already hold, and
the resumed stage writes the others under the same ``start``. Parts without a marker (those of
releases before stages, and plain checkpoints) read as before: the first part is whole.
"""

from __future__ import annotations

from collections.abc import Generator, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import orjson

#: what loading one part costs beside its bytes, in bytes (measured on SQLite: 20,000 parts of
#: one minute's row fetch and load in ~29 ms, ~1.5 us each; 1.7 MB of chatters in ~6 ms, ~3.5 ns
#: a byte: ~400 bytes a part)
PART_COST = 512
#: a slice's work in units: a chatter is one, a gifter, ranked user or minute row :data:`ROW`
#: (its list is built in Python); measured at 550k chatters (bench/checkpoint.py --compaction):
#: a slice of 32,768 chatters ~1.8 ms of the loop, one of 8,192 gifter rows ~2.6-3.6 ms
SLICE = 32_768
ROW = 8
#: the growing collections, in the order a stage writes them
KINDS = ("chatters", "gifters", "ranks", "minutes")


@dataclass
class Stage:
    """A staged compaction in progress: the chatters (``segments[:ends[0]]``: the tally's
    segments, see ``SessionTally``; the list may grow past its end) and the gifters, ranked
    users and minutes (``rows[i][:ends[i + 1]]``) it writes, and where it stands (``at``: the
    segment and the offset in it, then an index per list of rows)."""

    segments: list[tuple[Any, ...]]
    rows: list[list[Any]]
    ends: list[int]
    at: list[int] = field(default_factory=lambda: [0] * (len(KINDS) + 1))
    #: the seq of the stage's first part (0 until it is saved)
    start: int = 0
    #: the load cost of the stage's parts saved so far (bytes and PART_COST each)
    cost: int = 0

    def take(self, budget: int) -> tuple[list[list[Any]], list[int]]:
        """The keys of the next slice (at most ``budget`` units), per kind (:data:`KINDS`),
        and where the stage stands after it."""
        if budget < ROW:
            raise ValueError(f"a slice of {budget} units cannot hold a row of {ROW}")
        chatters: list[Any] = []
        seg, off = self.at[0], self.at[1]
        while seg < self.ends[0] and budget > 0:
            segment = self.segments[seg]
            n = min(len(segment) - off, budget)
            chatters.extend(segment[off : off + n])
            budget, off = budget - n, off + n
            if off >= len(segment):
                seg, off = seg + 1, 0
        out, at = [chatters], [seg, off]
        for i, keys in enumerate(self.rows):
            got = self.at[i + 2]
            n = max(0, min(self.ends[i + 1] - got, budget // ROW))
            out.append(keys[got : got + n])
            at.append(got + n)
            budget -= n * ROW
        return out, at

    def done(self, at: list[int] | None = None) -> bool:
        """Every key is written (at ``at``, or where the stage stands)."""
        at = at or self.at
        return at[0] >= self.ends[0] and all(
            a >= e for a, e in zip(at[2:], self.ends[1:], strict=True)
        )


class Checkpoint(NamedTuple):
    """What :meth:`SessionTally.checkpoint` (``tally.py``) gives the store and then
    ``checkpointed`` once it is saved."""

    state: bytes
    part: bytes
    #: the checkpoint's seq (the tally's ``last_seq``; the part is saved under it)
    seq: int
    #: the store deletes the session's parts saved before this seq (0: none): a compaction's end
    drop_before: int = 0
    #: the staged compaction this checkpoint carries a slice of, and where it stands after it
    stage: Stage | None = None
    at: list[int] | None = None
    #: the part is the whole tally (a session's end: ``SessionTally.final_checkpoint``)
    whole: bool = False


@dataclass
class PartLog:
    """What a load's parts, seen in seq order (:meth:`see`: their markers only), say about
    compactions: the whole prefix and the parts after it (the accounting of ``compact_due``),
    and an unfinished stage (:meth:`resume`)."""

    costs: list[int] = field(default_factory=list)
    #: the parts before this index are the whole one (a finished stage's, or the first part)
    whole_end: int = 0
    #: the index of the unfinished stage's first part (-1: none) and its seq
    open_at: int = -1
    start: int = 0

    def see(self, part: dict[str, Any], size: int) -> None:
        i = len(self.costs)
        self.costs.append(size + PART_COST)
        mark = part.get("stage")
        if not mark:
            return
        if self.open_at < 0 or mark[0] != self.start:  # a stage's first part
            self.open_at, self.start = i, mark[0]
        if mark[1]:  # its last: the parts before its first were deleted with it
            if self.open_at == 0:
                self.whole_end = i + 1
            self.open_at = -1

    def accounting(self) -> tuple[int, int, int]:
        """The whole part's bytes, the cost of the parts after it (before an unfinished
        stage) and of the unfinished stage's parts."""
        whole = max(self.whole_end, min(1, len(self.costs)))
        end = self.open_at if self.open_at >= whole else len(self.costs)
        stage = sum(self.costs[end:]) if self.open_at >= 0 else 0
        return max(0, sum(self.costs[:whole]) - PART_COST), sum(self.costs[whole:end]), stage

    def resume(self, parts: list[dict[str, Any]], growing: list[Any]) -> Stage | None:
        """The unfinished stage, to go on with (None: none): the keys of ``growing`` (the
        tally's chatters, gifters, ranks and minutes) that its ``parts`` (those seen from its
        first one on) do not hold yet."""
        if self.open_at < 0:
            return None
        covered: list[set[Any]] = [set() for _ in KINDS]
        for part in parts:
            chatters, *rows = (part.get(kind, ()) for kind in KINDS)
            covered[0].update(chatters)
            for seen, entries in zip(covered[1:], rows, strict=True):
                seen.update(row[0] for row in entries)
        chatters, *rest = growing
        rows = [
            [k for k in entries if k not in seen]
            for entries, seen in zip(rest, covered[1:], strict=True)
        ]
        stage = Stage([tuple(chatters - covered[0])], rows, [1, *map(len, rows)], start=self.start)
        stage.cost = self.accounting()[2]
        return stage


def whole_part(
    segments: list[tuple[Any, ...]], tables: list[Mapping[Any, list[Any]]], budget: int
) -> Generator[None, None, bytes]:
    """Every chatter of ``segments`` and every row of ``tables`` (the gifters, ranked users
    and minutes, with their entries now) as one part, serialized a slice of at most ``budget``
    units at a time: yields None after each slice (a bounded piece of work), returns the part
    (``yield from``; b"" when the tally holds nothing that grows)."""
    rows = [list(table) for table in tables]
    work = Stage(segments, rows, [len(segments), *map(len, rows)])
    chunks: list[list[bytes]] = [[] for _ in KINDS]
    while not work.done():
        keys, work.at = work.take(budget)
        for i, entries in enumerate(keys):
            if entries and i:
                entries = [[k, *tables[i - 1][k]] for k in entries]
            if entries:
                chunks[i].append(orjson.dumps(entries)[1:-1])
        yield None
    flat: list[bytes] = []  # one join: one copy of the part (each copy of ~10 MB: ~5 ms)
    for kind, parts in zip(KINDS, chunks, strict=True):
        if parts:
            flat += (b',"' if flat else b'{"', kind.encode(), b'":[')
            for i, chunk in enumerate(parts):
                flat += (b"," if i else b"", chunk)
            flat.append(b"]")
    return b"".join([*flat, b"}"]) if flat else b""


def drained(pieces: Generator[None, None, bytes]) -> bytes:
    """What a generator of pieces (:func:`whole_part`) returns, run without yielding."""
    while True:
        try:
            next(pieces)
        except StopIteration as end:
            return bytes(end.value)

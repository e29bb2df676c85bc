"""Sessions and their aggregates, maintained from the stored messages.

How each stored message counts exactly once: the aggregates are derived from inserted rows
only. A session's :class:`~dylive.analytics.tally.SessionTally` folds the rows of its room_id in
``seq`` order (``EventStore.scan``, keyset ``seq > last_seq``); duplicates never become rows (the
store ignores a repeated ``(room_id, msg_id)``), so they are never seen. The tally and the seq it
covers are saved together in one transaction (``EventStore.save_session``, compare-and-set on
the previous seq; the session's row, and the checkpoint's part: the chatters, gifters and ranked
users new or changed since the previous checkpoint, appended under the new seq; once the parts
cost as much to load as the session's whole part, a compaction rewrites everything in bounded
slices, one riding on each of the next checkpoints, and the last one's transaction deletes the
parts before the first): after a restart, or in another process,
folding resumes exactly after the checkpoint, from the row's state and the parts up to its seq.

The ingest hook is :meth:`Analytics.notify` (called after each stored batch): it wakes the room's
worker, which folds the new rows and checkpoints at most every ``checkpoint_every`` seconds, so
ingest never waits for analytics. A report of a running session catches up first (live); a
finished session's report is computed once, stored in its row and served from there.

A session is one broadcast (one room_id). It starts at its first stored message and ends at
the ControlMessage "live ended", when its room is known to be over (status 4), or when the next
broadcast of the same web_rid begins.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from dylive.errors import StoreError
from dylive.store import EventStore, RawRow, SessionRecord

from .catalogue import GiftCatalogue
from .report import DEFAULT_TOP, build_report, session_info
from .staging import ROW, SLICE
from .tally import COMPACT_FLOOR, READ, SessionTally

log = logging.getLogger(__name__)

ROOM_ENDED = 4

StatusFn = Callable[[int], dict[str, Any] | None]


@dataclass
class _Live:
    """A session held in memory: its row as last saved, its tally, who may fold it."""

    session: SessionRecord
    tally: SessionTally
    saved_at: float = 0.0
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    @property
    def dirty(self) -> bool:
        return self.tally.last_seq != self.session.last_seq


class Analytics:
    """Per-room workers folding stored messages into session tallies; reports on demand."""

    def __init__(
        self,
        store: EventStore,
        *,
        catalogue: GiftCatalogue | None = None,
        status: StatusFn | None = None,
        checkpoint_every: float = 2.0,
        idle_after: float = 120.0,
        batch: int = 5000,
        checkpoints: bool = True,
        fold_every: float = 1.0,
        compact_floor: int = COMPACT_FLOOR,
        compact_slice: int = SLICE,
    ) -> None:
        self.store = store
        #: a checkpoint compacts the session's parts no sooner than this many bytes of them
        #: (``SessionTally.compact_due``)
        self.compact_floor = compact_floor
        #: a compaction is staged over the checkpoints that follow, each writing at most this
        #: many units of it (``staging.py``: a chatter is one, a gifter or minute row eight)
        if compact_slice < ROW:
            raise ValueError(f"compact_slice {compact_slice} cannot hold a row of {ROW} units")
        self.compact_slice = compact_slice
        #: a busy room's worker folds at most this often (the first commit at once, the rows of
        #: the commits during the next span together: woken at every commit, 4 a second per room
        #: at 10 msg/s, it folded a message or two each time; at 0.25 s still one fold per push
        #: frame, 1 s folds four: ~9 µs of the loop thread less per message at 200 rooms,
        #: bench/ingest.py); reports catch up themselves, and a session's end is seen within it
        self.fold_every = fold_every
        #: False (``dylive report`` beside a running service): a running session's progress is
        #: never written, so the service's own checkpoints are not moved under it; a finished
        #: session's report still is.
        self.checkpoints = checkpoints
        self.catalogue = catalogue
        self._status = status
        self.checkpoint_every = checkpoint_every
        self.idle_after = idle_after
        self.batch = batch
        self._live: dict[int, _Live] = {}  # room_id -> session in memory
        self._wake: dict[int, asyncio.Event] = {}
        self._workers: dict[int, asyncio.Task[None]] = {}
        self._closing = False
        self.folded = 0

    # -- ingest hook --------------------------------------------------------------------------
    def notify(self, room_id: int) -> None:
        """New rows were stored for ``room_id``: fold them soon (never blocks)."""
        wake = self._wake.get(room_id)
        if wake is None:
            wake = self._wake[room_id] = asyncio.Event()
        wake.set()
        worker = self._workers.get(room_id)
        if (worker is None or worker.done()) and not self._closing:
            worker = asyncio.create_task(self._worker(room_id), name=f"dylive-analytics-{room_id}")
            worker.add_done_callback(lambda _: self._restart(room_id))
            self._workers[room_id] = worker

    def _restart(self, room_id: int) -> None:
        """A worker ended (idle, or its session finished): start again if rows came meanwhile."""
        wake = self._wake.get(room_id)
        if wake is not None and wake.is_set() and not self._closing:
            self.notify(room_id)

    async def _worker(self, room_id: int) -> None:
        """Fold the room's new rows when woken, checkpoint every ``checkpoint_every`` seconds,
        finish the session at its end; leave after ``idle_after`` seconds without rows."""
        wake = self._wake[room_id]
        idle = 0.0
        while not self._closing:
            if not wake.is_set():  # rows committed during the last fold_every: no wait at all
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self.checkpoint_every):  # no task per wait
                        await wake.wait()
            woke = wake.is_set()
            wake.clear()
            if self._closing:
                return
            try:
                live = await self.catch_up(room_id)
                if live.tally.ended_at or live.session.ended_at:
                    await self._finish(live)
                    return
                if live.dirty and time.monotonic() - live.saved_at >= self.checkpoint_every:
                    await self._save(live)
            except StoreError as exc:  # the store is down: try again at the next wake
                log.warning("room %s: analytics waits for the store: %s", room_id, exc)
                self._live.pop(room_id, None)
                continue
            except Exception:
                log.exception("room %s: analytics failed; retrying", room_id)
                self._live.pop(room_id, None)
                continue
            idle = 0.0 if woke else idle + self.checkpoint_every
            if idle >= self.idle_after and not live.dirty:
                self._live.pop(room_id, None)  # reloaded from its checkpoint when needed
                return
            if woke and self.fold_every > 0:
                await asyncio.sleep(self.fold_every)  # the commits of that span fold together

    def idle(self, room_id: int) -> bool:
        """No worker runs for ``room_id`` and nothing of it is held in memory."""
        worker = self._workers.get(room_id)
        return (worker is None or worker.done()) and room_id not in self._live

    async def flush(self) -> None:
        """Fold and checkpoint every session held in memory (e.g. before shutdown)."""
        for room_id in list(self._live):
            live = await self.catch_up(room_id)
            if live.dirty:
                await self._save(live)

    async def close(self) -> None:
        """Let the workers finish what they are doing (a checkpoint cut short would leave this
        process's view behind the store's), then checkpoint everything held in memory."""
        self._closing = True
        workers, self._workers = list(self._workers.values()), {}
        for wake in self._wake.values():
            wake.set()
        done, pending = await asyncio.wait(workers, timeout=10) if workers else (set(), set())
        for task in pending:
            task.cancel()
        for task in (*done, *pending):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        try:
            await self.flush()
        except Exception:
            log.exception("analytics: final checkpoint failed")

    # -- folding ------------------------------------------------------------------------------
    async def catch_up(self, room_id: int) -> _Live:
        """The room's session with every stored row folded in."""
        live = await self._load(room_id)
        async with live.lock:
            while True:
                rows = await self.store.scan(
                    room_id, live.tally.last_seq, self.batch, rendered=True
                )
                if rows:
                    await self._fold(live, rows)
                if len(rows) < self.batch:
                    return live

    async def _fold(self, live: _Live, rows: list[RawRow]) -> None:
        payloads = [_payload(row) for row in rows]
        if self.catalogue is not None:
            for payload in payloads:
                gift = payload.get("gift")
                if gift and not gift.get("diamond_count"):  # priced by the catalogue
                    await self.catalogue.ensure(int(gift.get("id") or 0))
            live.tally.prices = self.catalogue.prices
        add = live.tally.add
        for (seq, msg_id, method, created_at, _), payload in zip(rows, payloads, strict=True):
            add(seq, msg_id, method, created_at, payload)
        self.folded += len(rows)

    # -- sessions -----------------------------------------------------------------------------
    async def _load(self, room_id: int) -> _Live:
        live = self._live.get(room_id)
        if live is not None:
            return live
        session = await self.store.get_session(room_id=room_id)
        if session is None:
            session = await self._open(room_id)
        parts: list[bytes] = []
        while session.state:
            parts = await self.store.session_parts(session.id, session.last_seq)
            # another process's compaction between the two reads deletes parts up to its own,
            # newer seq (the row moves with it): read both again
            now = await self.store.get_session(session_id=session.id)
            if now is None or now.last_seq == session.last_seq:
                break
            session = now
        live = _Live(session, SessionTally.from_state(session.state, parts), time.monotonic())
        return self._live.setdefault(room_id, live)

    async def _open(self, room_id: int) -> SessionRecord:
        room = await self.store.find_room(room_id=room_id)
        draft = SessionRecord(
            id=0,
            room_id=room_id,
            web_rid=room.web_rid if room else "",
            title=room.title if room else "",
            anchor=room.anchor_nickname if room else "",
        )
        session = await self.store.open_session(draft)
        if session.web_rid:
            for older in await self.store.list_sessions(web_rid=session.web_rid):
                if older.id < session.id and not older.ended_at:
                    await self.end(older.room_id)
        log.info("room %s: session %s opened", room_id, session.id)
        return session

    async def end(self, room_id: int) -> None:
        """The broadcast is over (known from elsewhere): fold what is stored and finish."""
        live = await self.catch_up(room_id)
        if not live.session.ended_at:
            await self._finish(live)

    async def _finish(self, live: _Live) -> dict[str, Any]:
        """Close the session: its report is computed, stored with the final checkpoint."""
        tally = live.tally
        ended = live.session.ended_at or tally.ended_at or tally.last_at or _now_ms()
        session = dataclasses.replace(live.session, ended_at=ended)
        report = build_report(self._stamped(session, tally), tally)
        await self._save(live, ended_at=ended, report=orjson.dumps(report))
        self._live.pop(live.session.room_id, None)
        log.info("room %s: session %s finished", session.room_id, session.id)
        return report

    def _stamped(self, session: SessionRecord, tally: SessionTally) -> SessionRecord:
        return dataclasses.replace(session, started_at=session.started_at or tally.first_at)

    async def _save(self, live: _Live, *, ended_at: int = 0, report: bytes = b"") -> None:
        if not self.checkpoints and not report:
            return
        async with live.lock:
            old = live.session
            if ended_at:  # the session's end: a stage in progress or due is finished here
                for piece in live.tally.final_checkpoint(self.compact_floor, self.compact_slice):
                    if piece is not None:
                        cp = piece
                        break
                    await asyncio.sleep(0)  # each piece a bounded slice of the loop's work
            else:
                cp = live.tally.checkpoint(self.compact_floor, self.compact_slice)
            new = dataclasses.replace(
                self._stamped(old, live.tally),
                ended_at=ended_at or old.ended_at,
                last_seq=live.tally.last_seq,
                state=cp.state,
                report=report or (old.report if not live.dirty else b""),
            )
            if await self.store.save_session(new, old.last_seq, cp.part, cp.drop_before):
                live.tally.checkpointed(cp)
                live.session, live.saved_at = new, time.monotonic()
                return
        log.info(
            "room %s: session %s was checkpointed by another process; reloading",
            old.room_id,
            old.id,
        )
        self._live.pop(old.room_id, None)

    # -- queries ------------------------------------------------------------------------------
    async def sessions(self, *, web_rid: str = "", room_id: int = 0) -> list[dict[str, Any]]:
        """The sessions of a web_rid (or of one room_id), newest first."""
        found = await self.store.list_sessions(web_rid=web_rid, room_id=room_id)
        out = []
        for session in found:
            live = self._live.get(session.room_id)
            out.append(session_info(session, live.tally if live else None))
        return out

    async def report(self, session_id: int, *, top: int = DEFAULT_TOP) -> dict[str, Any] | None:
        """The report of a session (None if there is no such session)."""
        stored = await self.store.get_session(session_id=session_id)
        if stored is None:
            return None
        final = stored.ended_at and stored.report and top == DEFAULT_TOP
        if final and not await self.store.scan(stored.room_id, stored.last_seq, 1):
            report: dict[str, Any] = orjson.loads(stored.report)
            return report
        await self._end_if_over(stored)
        live = await self.catch_up(stored.room_id)
        ended = live.tally.ended_at or live.session.ended_at
        # an ended session with a stage left open (ended by a release that left it so): the
        # final save compacts it (``SessionTally.final_checkpoint``)
        open_stage = live.tally.compacting or live.tally.compact_due(self.compact_floor)
        if ended and (
            live.dirty or not live.session.ended_at or not live.session.report or open_stage
        ):
            report = await self._finish(live)
            if top == DEFAULT_TOP:
                return report
        report = build_report(self._stamped(live.session, live.tally), live.tally, top=top)
        status = self._status(stored.room_id) if self._status and not stored.ended_at else None
        if status:
            report["collection"].update(status)
        return report

    async def _end_if_over(self, session: SessionRecord) -> None:
        """End a running session whose room is over (status 4) or has a newer broadcast."""
        if session.ended_at:
            return
        room = await self.store.find_room(room_id=session.room_id)
        newer = session.web_rid and any(
            s.id > session.id for s in await self.store.list_sessions(web_rid=session.web_rid)
        )
        if newer or (room is not None and room.status == ROOM_ENDED):
            await self.end(session.room_id)


def _payload(row: RawRow) -> dict[str, Any]:
    """The rendered payload of a row whose fields the fold reads ({} for the others)."""
    if row[2] not in READ:
        return {}
    try:
        body = orjson.loads(row[4])
    except orjson.JSONDecodeError:
        log.warning("analytics: stored message %s is not JSON; counted by method only", row[1])
        return {}
    payload = body.get("payload") if isinstance(body, dict) else None
    return payload if isinstance(payload, dict) else {}


def _now_ms() -> int:
    return time.time_ns() // 1_000_000

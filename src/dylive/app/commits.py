"""The one fan-out for "a batch was committed", and for ingestion's other reports.

Every consumer of new rows subscribes to :class:`Commits`: the live hub (SSE, WebSocket feeds),
analytics, webhooks, the HTTP face's metrics. A :class:`Commit` comes from this process's
ingestion (``local``, with the number of rows inserted) or from another process sharing the
store (a fleet node on the same PostgreSQL database: ``EventStore.on_commit``; ``local`` False,
``inserted`` 1 as the store does not say how many). Long-poll waiters wait through
:meth:`Commits.wait`, which the store answers from the same commits (its per-room last seq).

Listeners are called synchronously and must not block (set an event, start a task). An exception
in a listener propagates to the committing ingestion, which restarts its pipeline from the
stored position (as a crash of any part of ingestion does).

:class:`IngestEvents` is what ingestion reports to (:class:`dylive.collect.IngestHooks`): a
stored batch becomes a commit; retries, quarantined messages, restarts, gaps and fenced writes go
to the listeners subscribed for them (metrics).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import NamedTuple

from dylive.store import EventLog


class Commit(NamedTuple):
    """A committed batch of one room."""

    room_id: int
    inserted: int  # rows inserted (0: only duplicates, or only the upstream position)
    local: bool  # committed by this process's ingestion (False: heard from the store)


Listener = Callable[[Commit], None]


class Commits:
    """Subscribe to commits (:meth:`subscribe`) or wait for a room's next row (:meth:`wait`)."""

    def __init__(self, store: EventLog) -> None:
        self._store = store
        self._listeners: list[Listener] = []
        store.on_commit(self._remote)

    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def committed(self, room_id: int, inserted: int) -> None:
        """This process stored a batch of ``room_id`` (``inserted`` new rows)."""
        self._publish(Commit(room_id, inserted, True))

    def _remote(self, room_id: int) -> None:
        self._publish(Commit(room_id, 1, False))

    def _publish(self, commit: Commit) -> None:
        for listener in self._listeners:
            listener(commit)

    def wait(self, room_id: int, after_seq: int, within: float) -> Awaitable[bool]:
        """Wait until ``room_id`` has a row with seq > ``after_seq``; False after ``within`` s.
        (The store's own wait, returned to be awaited: no coroutine of its own around it.)"""
        return self._store.wait_for(room_id, after_seq, within)


_EVENTS = ("on_retry", "on_quarantined", "on_restart", "on_gap", "on_fenced")


class IngestEvents:
    """Ingestion's hooks (:class:`dylive.collect.IngestHooks`) as a fan-out: ``on_stored`` is a
    commit; :meth:`subscribe` a listener for any of the other reports it has methods for."""

    def __init__(self, commits: Commits) -> None:
        self._commits = commits
        self._calls: dict[str, list[Callable[..., None]]] = {name: [] for name in _EVENTS}

    def subscribe(self, listener: object) -> None:
        """Call ``listener.on_retry(room_id)`` … for each of :data:`_EVENTS` it defines."""
        for name in _EVENTS:
            method = getattr(listener, name, None)
            if callable(method):
                self._calls[name].append(method)

    def on_stored(self, room_id: int, inserted: int) -> None:
        self._commits.committed(room_id, inserted)

    def on_retry(self, room_id: int) -> None:
        for call in self._calls["on_retry"]:
            call(room_id)

    def on_quarantined(self, room_id: int) -> None:
        for call in self._calls["on_quarantined"]:
            call(room_id)

    def on_restart(self, room_id: int) -> None:
        for call in self._calls["on_restart"]:
            call(room_id)

    def on_gap(self, room_id: int, missed: int) -> None:
        for call in self._calls["on_gap"]:
            call(room_id, missed)

    def on_fenced(self, room_id: int) -> None:
        for call in self._calls["on_fenced"]:
            call(room_id)

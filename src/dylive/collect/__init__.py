"""Collection: the room lifecycle and ingestion into the store.

- :class:`RoomManager` (:mod:`.rooms`) resolves room identifiers, starts a room on demand or when
  pinned, stops idle ones, and runs one :class:`Ingest` pipeline per room (fleet mode: the rooms
  :class:`dylive.fleet.FleetNode` holds leases of).
- :class:`Ingest` (:mod:`.ingest`): collector → bounded pending batch → store, with the upstream
  position as checkpoint; :class:`Tuning` bounds it, and :class:`Budget` (:mod:`.budget`) bounds
  the events pending across every room (readers wait, upstream holds the rest: ``overloaded``).
- :func:`ledger_from_store` (:mod:`.ledger`): a room's gift ledger rebuilt from the store before
  its collector starts (the one ledger the service path computes gift deltas with).

Collection raises the domain errors of :mod:`dylive.errors` (``InvalidRoom``, ``RoomNotFound``,
``RoomNotLive``, ``RoomLimitReached``, ``UpstreamError``); it knows nothing of HTTP.
"""

from .budget import Budget, BudgetSnapshot
from .ingest import Ingest, IngestHooks, NoHooks, SourceFactory, Tuning
from .ledger import ledger_from_store
from .records import room_record, to_record
from .rooms import Resolver, RoomManager, collector_source, default_resolver
from .roomstate import RoomState

__all__ = [
    "Budget",
    "BudgetSnapshot",
    "Ingest",
    "IngestHooks",
    "NoHooks",
    "Resolver",
    "RoomManager",
    "RoomState",
    "SourceFactory",
    "Tuning",
    "collector_source",
    "default_resolver",
    "ledger_from_store",
    "room_record",
    "to_record",
]

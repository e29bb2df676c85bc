"""Schema migrations for the SQL stores, applied in order; ``PRAGMA user_version`` (SQLite) or
the ``dylive_schema`` table (PostgreSQL) records how many have run. The steps of each backend are
in its own module (:mod:`~dylive.store.schema_sqlite`, :mod:`~dylive.store.schema_postgres`);
this module names them and maps the unsigned 64-bit ids onto the signed columns.

Append new steps at the end; never edit a released one.
"""

from __future__ import annotations

from .schema_postgres import POSTGRES
from .schema_sqlite import SQLITE

__all__ = ["POSTGRES", "SQLITE", "to_signed", "to_unsigned"]

#: 64-bit unsigned ids (msg_id, room_id) are stored as signed BIGINT.
_U64 = 1 << 64
_I64_MAX = (1 << 63) - 1


def to_signed(value: int) -> int:
    """Map an unsigned 64-bit id onto the signed column range (identity below 2^63)."""
    return value - _U64 if value > _I64_MAX else value


def to_unsigned(value: int) -> int:
    """Inverse of :func:`to_signed`."""
    return value + _U64 if value < 0 else value

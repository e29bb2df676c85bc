"""What both backends share for the usage concern: the columns and row values of
``token_usage`` and ``admin_audit``."""

from __future__ import annotations

from typing import Any

from .records import UsageRow

#: Columns of ``token_usage`` in the order of :class:`~dylive.store.records.UsageRow`.
USAGE_COLS = "token_id, hour, endpoint, code, requests, messages, bytes"
#: Columns of ``admin_audit`` in the order of :class:`~dylive.store.records.AuditEntry`.
AUDIT_COLS = "id, at, actor, action, target, code, detail"


def usage_values(row: UsageRow) -> tuple[Any, ...]:
    return (
        row.token_id,
        row.hour,
        row.endpoint,
        row.code,
        row.requests,
        row.messages,
        row.bytes,
    )

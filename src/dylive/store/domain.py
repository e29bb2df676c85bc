"""Store logic written once above the backends: the rules, with the SQL left to each backend.

Each class implements some public methods of a narrow interface on top of a few protected
primitives (one writer operation or one read each) that ``dylive.store.sqlite`` and
``dylive.store.postgres`` provide; what is decided (a taken token name, a lost compare-and-set,
a pending read position that is newer than the stored one) is decided here only.
"""

from __future__ import annotations

import abc
from typing import Any

from .interfaces import Outbox, Positions, Sessions, Tokens
from .records import Quota, SessionRecord, TokenChange, TokenRecord
from .rows import name_taken, now_ms
from .sessions import drop_args, insert_args, part_args, save_args

#: The columns of a token insert, in the order of :meth:`TokenRules._insert_token`'s row.
TOKEN_INSERT = (
    "name, digest, room_limit, rate, created_at, expires_at,"
    " requests_per_day, requests_per_month, messages_per_day, messages_per_month"
)


#: The columns a plan change rewrites, in the order of :func:`plan_values`.
TOKEN_PLAN = (
    "name",
    "room_limit",
    "rate",
    "expires_at",
    "requests_per_day",
    "requests_per_month",
    "messages_per_day",
    "messages_per_month",
)


def plan_values(record: TokenRecord) -> tuple[Any, ...]:
    """The values of :data:`TOKEN_PLAN` of ``record``."""
    return (
        record.name,
        record.room_limit,
        record.rate,
        record.expires_at,
        *astuple_quota(record.quota),
    )


def astuple_quota(quota: Quota) -> tuple[int, int, int, int]:
    return (
        quota.requests_per_day,
        quota.requests_per_month,
        quota.messages_per_day,
        quota.messages_per_month,
    )


class TokenRules(Tokens):
    """``create_token``: names are unique among active tokens (``TokenNameTaken`` otherwise)."""

    async def create_token(
        self,
        name: str,
        digest: str,
        room_limit: int,
        rate: float,
        *,
        expires_at: int = 0,
        quota: Quota | None = None,
    ) -> int:
        q = quota or Quota()
        row = (name, digest, room_limit, rate, now_ms(), expires_at, *astuple_quota(q))
        token_id, taken = await self._insert_token(name, row)
        if taken:
            raise name_taken(name, token_id)
        return token_id

    @abc.abstractmethod
    async def _insert_token(self, name: str, row: tuple[Any, ...]) -> tuple[int, bool]:
        """In one write: ``(id, True)`` when an active token is named ``name`` (nothing
        written), else insert ``row`` (the columns :data:`TOKEN_INSERT` names) and return
        ``(new id, False)``."""

    async def update_token(
        self, token_id: int, change: TokenChange
    ) -> tuple[TokenRecord, TokenRecord] | None:
        before, after, holder = await self._update_token(token_id, change)
        if holder is not None:
            raise name_taken(str(change.name), holder)
        return None if before is None or after is None else (before, after)

    @abc.abstractmethod
    async def _update_token(
        self, token_id: int, change: TokenChange
    ) -> tuple[TokenRecord | None, TokenRecord | None, int | None]:
        """In one write: read the token ``token_id`` (``before``, None if there is none) and,
        when the change renames it, the id of another active token with the new name
        (``holder``); write :meth:`updated`'s record (its :data:`TOKEN_PLAN` columns) unless it
        is None; return ``(before, what was written, holder)``."""

    @staticmethod
    def updated(
        before: TokenRecord | None, change: TokenChange, holder: int | None
    ) -> TokenRecord | None:
        """What an update writes: nothing (None) for a token that is missing or revoked, or a
        name another active token holds; else ``before`` with the change."""
        if before is None or not before.active or holder is not None:
            return None
        return change.applied(before)

    @staticmethod
    def renames(before: TokenRecord | None, change: TokenChange) -> bool:
        """The change gives an existing token another name (whose holder must be looked up)."""
        return before is not None and change.name is not None and change.name != before.name

    @staticmethod
    def revoke_column(ident: str | int) -> str:
        """The tokens column :meth:`revoke_token` matches ``ident`` against."""
        return "id" if isinstance(ident, int) else "name"


class PositionRules(Positions):
    """``get_position``: a read position not yet written (coalesced, see ``set_position``)
    counts as read, as does a newer stored one."""

    _pending_pos: dict[tuple[int, int], int]

    async def get_position(self, token_id: int, room_id: int) -> int | None:
        pending = self._pending_pos.get((token_id, room_id))
        stored = await self._stored_position(token_id, room_id)
        if pending is not None:
            return max(pending, stored or 0)
        return stored

    @abc.abstractmethod
    async def _stored_position(self, token_id: int, room_id: int) -> int | None:
        """The committed seq of ``positions`` for this token and room (None if none)."""


class SessionRules(Sessions):
    """``open_session`` (insert if absent, then the stored one) and ``save_session``
    (compare-and-set on ``last_seq``)."""

    async def open_session(self, session: SessionRecord) -> SessionRecord:
        await self._insert_session(insert_args(session))
        found = await self.get_session(room_id=session.room_id)
        assert found is not None
        return found

    async def save_session(
        self, session: SessionRecord, expected_seq: int, part: bytes = b"", drop_before: int = 0
    ) -> bool:
        args = save_args(session, expected_seq)
        part_row, drop = part_args(session, part), drop_args(session, drop_before)
        return await self._update_session(args, part_row, drop) == 1

    @abc.abstractmethod
    async def _insert_session(self, args: tuple[Any, ...]) -> None:
        """Run :data:`~dylive.store.sessions.INSERT` (a no-op when the room has a session)."""

    @abc.abstractmethod
    async def _update_session(
        self,
        args: tuple[Any, ...],
        part: tuple[Any, ...] | None = None,
        drop: tuple[Any, ...] | None = None,
    ) -> int:
        """Run :data:`~dylive.store.sessions.SAVE`; the number of rows it changed. When it
        changed one, run :data:`~dylive.store.sessions.DROP_PARTS` with ``drop`` and
        :data:`~dylive.store.sessions.ADD_PART` with ``part`` (those given) in the same
        transaction."""


class OutboxRules(Outbox):
    """Webhook deletion takes the webhook's consumer (its positions and dead letters) along."""

    async def delete_webhook(self, hook_id: int) -> bool:
        return await self._delete_webhook(hook_id, webhook_consumer(hook_id)) > 0

    @abc.abstractmethod
    async def _delete_webhook(self, hook_id: int, consumer: str) -> int:
        """In one write: delete the webhook and ``consumer``'s positions and dead letters; the
        number of webhooks deleted."""


def webhook_consumer(hook_id: int) -> str:
    """The delivery consumer name of a webhook."""
    return f"webhook:{hook_id}"

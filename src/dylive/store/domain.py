"""Store logic written once above the backends: the rules, with the SQL left to each backend
(but for the token writes').

Each class implements some public methods of a narrow interface on top of a few protected
primitives (one writer operation or one read each) that ``dylive.store.sqlite`` and
``dylive.store.postgres`` provide; what is decided (a taken token name, a lost compare-and-set,
a pending read position that is newer than the stored one) is decided here only.

The token writes (create, update) are written here whole, statements and their order: each
is a generator of steps (:class:`TokenStep`, sans-I/O) that a backend runs in one write
transaction through :class:`TokenWrite`, executing each step as its kind says and sending its
answer back; the backends differ only in how a kind is executed.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Generator
from typing import Any, Generic, NamedTuple, TypeVar

from .interfaces import Outbox, Positions, Sessions, Tokens
from .records import Quota, SessionRecord, TokenChange, TokenRecord
from .rows import TOKEN_COLS, name_taken, now_ms, token_from_row
from .sessions import drop_args, insert_args, part_args, save_args

T = TypeVar("T")

#: The columns of a token insert, in the order of the row :meth:`TokenRules.create_token` writes.
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


class TokenStep(NamedTuple):
    """One statement of a token write: ``sql`` (``%s`` placeholders; SQLite swaps them for
    ``?``) and ``args``, run as ``kind`` says (the answer is sent back into the write):

    - ``NAME_LOCK``: hold the token name ``args[0]`` until the transaction ends (PostgreSQL's
      advisory lock, so two nodes checking one free name at once do not both take it; SQLite's
      one writer already runs one write at a time: nothing). No ``sql``; answer None.
    - ``READ`` / ``READ_FOR_UPDATE``: the first row (None if none); PostgreSQL locks the row
      read ``FOR UPDATE``.
    - ``INSERT``: the new row's id (PostgreSQL: ``RETURNING id``; SQLite: its rowid).
    - ``WRITE``: None.

    ``INSERT`` and ``WRITE`` change the tokens: the backend makes every process's token cache
    forget (PostgreSQL notifies ``t`` in the transaction; SQLite rewrites the change mark after
    the commit)."""

    kind: str
    sql: str
    args: tuple[Any, ...]


NAME_LOCK, READ, READ_FOR_UPDATE, INSERT, WRITE = (
    "name_lock",
    "read",
    "read_for_update",
    "insert",
    "write",
)

#: A token write: the steps it yields, each answer sent back, and its value returned.
TokenSteps = Generator[TokenStep, Any, T]

#: An active token's id by name (the one name check of a create and a rename).
_NAME_HOLDER = "SELECT id FROM tokens WHERE name = %s AND revoked_at = 0"
_VALUES = ", ".join("%s" for _ in TOKEN_INSERT.split(","))  # one a column
_INSERT = f"INSERT INTO tokens ({TOKEN_INSERT}) VALUES ({_VALUES})"
_BY_ID = f"SELECT {TOKEN_COLS} FROM tokens WHERE id = %s"
_SET_PLAN = f"UPDATE tokens SET {', '.join(f'{c} = %s' for c in TOKEN_PLAN)} WHERE id = %s"


class TokenWrite(Generic[T]):
    """One run of a token write's steps (a new one each time the backend's writer runs the
    operation: a retried batch runs it again from the start). ``send`` takes the answer to the
    last step (None first) and gives the next step, or None once the write is done: then
    ``result`` is its value and ``changed`` says whether a step changed the tokens."""

    result: T

    def __init__(self, steps: TokenSteps[T]) -> None:
        self._steps = steps
        self.changed = False

    def send(self, answer: Any) -> TokenStep | None:
        try:
            step = self._steps.send(answer)
        except StopIteration as stop:
            self.result = stop.value
            return None
        self.changed = self.changed or step.kind in (INSERT, WRITE)
        return step


class TokenRules(Tokens):
    """``create_token``: names are unique among active tokens (``TokenNameTaken`` otherwise);
    ``update_token``: a plan change in place, a rename to a name another active token holds
    refused. Both are one write each, its statements and their order written here
    (:meth:`insert_steps`, :meth:`update_steps`)."""

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
        token_id, taken = await self._token_write(lambda: self.insert_steps(name, row))
        if taken:
            raise name_taken(name, token_id)
        return token_id

    @staticmethod
    def insert_steps(name: str, row: tuple[Any, ...]) -> TokenSteps[tuple[int, bool]]:
        """``(id, True)`` when an active token is named ``name`` (nothing written), else insert
        ``row`` (the columns :data:`TOKEN_INSERT` names) and return ``(new id, False)``."""
        yield TokenStep(NAME_LOCK, "", (name,))
        taken = yield TokenStep(READ, _NAME_HOLDER, (name,))
        if taken is not None:
            return int(taken[0]), True
        new_id = yield TokenStep(INSERT, _INSERT, row)
        return new_id, False

    async def update_token(
        self, token_id: int, change: TokenChange
    ) -> tuple[TokenRecord, TokenRecord] | None:
        before, after, holder = await self._token_write(lambda: self.update_steps(token_id, change))
        if holder is not None:
            raise name_taken(str(change.name), holder)
        return None if before is None or after is None else (before, after)

    @classmethod
    def update_steps(
        cls, token_id: int, change: TokenChange
    ) -> TokenSteps[tuple[TokenRecord | None, TokenRecord | None, int | None]]:
        """Read the token ``token_id`` (``before``, None if there is none) and, when the change
        renames it, the id of another active token with the new name (``holder``); write
        :meth:`updated`'s record (its :data:`TOKEN_PLAN` columns) unless it is None; return
        ``(before, what was written, holder)``."""
        found = yield TokenStep(READ_FOR_UPDATE, _BY_ID, (token_id,))
        before = token_from_row(found) if found else None
        holder = None
        if cls.renames(before, change):
            yield TokenStep(NAME_LOCK, "", (str(change.name),))
            taken = yield TokenStep(READ, f"{_NAME_HOLDER} AND id != %s", (change.name, token_id))
            holder = int(taken[0]) if taken else None
        after = cls.updated(before, change, holder)
        if after is not None:
            yield TokenStep(WRITE, _SET_PLAN, (*plan_values(after), token_id))
        return before, after, holder

    @abc.abstractmethod
    async def _token_write(self, steps: Callable[[], TokenSteps[T]]) -> T:
        """In one write: run a :class:`TokenWrite` of ``steps()`` (each step as its kind says,
        see :class:`TokenStep`), and after the commit, when it ``changed`` the tokens, make
        this process's token cache forget at once; its ``result``."""

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

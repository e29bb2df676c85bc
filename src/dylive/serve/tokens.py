"""API tokens: generated secrets, stored as sha256 digests, checked in constant time; a token
past its expiry is refused like a revoked one."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time

from dylive import settings
from dylive.store import Quota, TokenRecord, Tokens

from .errors import BAD_TOKEN, MISSING_TOKEN, ApiError

PREFIX = "dyl_"


def new_token() -> str:
    """A fresh token secret (``dyl_`` + 32 url-safe random characters)."""
    return PREFIX + secrets.token_urlsafe(24)


def digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


async def create(
    store: Tokens,
    name: str,
    *,
    room_limit: int | None = None,
    rate: float = 0.0,
    expires_at: int = 0,
    quota: Quota | None = None,
) -> str:
    """Create a token and return its secret (only its digest is stored).

    ``room_limit``: rooms it may poll at a time; None = the ``room_limit`` setting
    (``DYLIVE_ROOM_LIMIT``, 10), 0 = no limit. ``expires_at``: ms since the epoch (0 = never);
    ``quota``: its plan (None = unlimited).
    """
    return (
        await create_record(
            store, name, room_limit=room_limit, rate=rate, expires_at=expires_at, quota=quota
        )
    )[1]


async def create_record(
    store: Tokens,
    name: str,
    *,
    room_limit: int | None = None,
    rate: float = 0.0,
    expires_at: int = 0,
    quota: Quota | None = None,
) -> tuple[int, str]:
    """:func:`create`, returning the new token's id too."""
    if room_limit is None:
        room_limit = int(settings.number("room_limit"))
    token = new_token()
    token_id = await store.create_token(
        name, digest(token), room_limit, rate, expires_at=expires_at, quota=quota
    )
    return token_id, token


async def authenticate(store: Tokens, token: str | None) -> TokenRecord:
    """The active token record for ``token``; ApiError MISSING_TOKEN / BAD_TOKEN otherwise.

    Looked up in the store on every call, so a revocation is effective immediately (only the
    digest of a token that was valid once is remembered, not the record).
    """
    if not token:
        raise ApiError(MISSING_TOKEN)
    wanted = _DIGESTS.get(token) or digest(token)
    record = await store.token_by_digest(wanted)
    if record is None or not hmac.compare_digest(record.digest, wanted) or not record.active:
        raise ApiError(BAD_TOKEN)
    if record.expires_at and record.expired(time.time_ns() // 1_000_000):
        raise ApiError(BAD_TOKEN, "the token has expired")
    if token not in _DIGESTS:  # only tokens that were valid once are kept
        if len(_DIGESTS) >= _DIGESTS_KEPT:
            _DIGESTS.clear()
        _DIGESTS[token] = wanted
    return record


#: the digests of valid tokens seen (a poller sends its token with every request; sha256 and
#: its hex digest were ~2 us of each request), bounded: the record is still read every time
_DIGESTS: dict[str, str] = {}
_DIGESTS_KEPT = 4096

"""API tokens: generated secrets, stored as sha256 digests, checked in constant time."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from dylive import settings
from dylive.store import TokenRecord, Tokens

from .errors import BAD_TOKEN, MISSING_TOKEN, ApiError

PREFIX = "dyl_"


def new_token() -> str:
    """A fresh token secret (``dyl_`` + 32 url-safe random characters)."""
    return PREFIX + secrets.token_urlsafe(24)


def digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


async def create(
    store: Tokens, name: str, *, room_limit: int | None = None, rate: float = 0.0
) -> str:
    """Create a token and return its secret (only its digest is stored).

    ``room_limit``: rooms it may poll at a time; None = the ``room_limit`` setting
    (``DYLIVE_ROOM_LIMIT``, 10), 0 = no limit.
    """
    if room_limit is None:
        room_limit = int(settings.number("room_limit"))
    token = new_token()
    await store.create_token(name, digest(token), room_limit, rate)
    return token


async def authenticate(store: Tokens, token: str | None) -> TokenRecord:
    """The active token record for ``token``; ApiError MISSING_TOKEN / BAD_TOKEN otherwise.

    Looked up in the store on every call, so a revocation is effective immediately.
    """
    if not token:
        raise ApiError(MISSING_TOKEN)
    wanted = digest(token)
    record = await store.token_by_digest(wanted)
    if record is None or not hmac.compare_digest(record.digest, wanted) or not record.active:
        raise ApiError(BAD_TOKEN)
    return record

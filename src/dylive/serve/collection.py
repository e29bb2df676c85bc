"""The room calls of the HTTP endpoints: collection (:mod:`dylive.collect.rooms`) raises domain
errors (:mod:`dylive.errors`); these wrappers answer them as the envelope's codes (BAD_ROOM,
UNKNOWN_ROOM, ROOM_NOT_LIVE, ROOM_LIMIT, UPSTREAM; see :func:`dylive.serve.errors.api_error`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from dylive.source.room import RoomInfo

from .errors import COLLECTION_ERRORS, api_error

if TYPE_CHECKING:
    from .app import HttpService as Service


async def lookup(svc: Service, ident: str) -> tuple[RoomInfo, bool]:
    """``(info, live)`` of a URL / web_rid / room_id, or the ApiError of why not."""
    try:
        return await svc.rooms.lookup(ident)
    except COLLECTION_ERRORS as exc:
        raise api_error(exc) from None


def touch(svc: Service, token_id: int, room_limit: int, info: RoomInfo, live: bool) -> None:
    """A poll of a room by a token (starts collecting it); ApiError(ROOM_LIMIT) over the limit."""
    try:
        svc.rooms.touch(token_id, room_limit, info, live)
    except COLLECTION_ERRORS as exc:
        raise api_error(exc) from None
    svc.meter.room(token_id, info.room_id)  # a room in use (usage metering)


async def pin(svc: Service, ident: str) -> RoomInfo:
    try:
        return await svc.rooms.pin(ident)
    except COLLECTION_ERRORS as exc:
        raise api_error(exc) from None


async def unpin(svc: Service, ident: str) -> None:
    try:
        await svc.rooms.unpin(ident)
    except COLLECTION_ERRORS as exc:
        raise api_error(exc) from None

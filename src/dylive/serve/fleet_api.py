"""The fleet's HTTP face: ``GET /api/fleet`` and the fleet-wide room list behind ``/api/rooms``.

Both answer from the database, so every node gives the same picture: the nodes (id, address,
version, capacity, heartbeat age, rooms held) and every room of the fleet with its owner
(``node``), ``collecting``, lease expiry, lag and messages/s as the owner last reported them
(every tick). Rooms this node runs add their live local status (transport, gaps, counters).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from dylive.collect.watch import WAITING

from .errors import NOT_FOUND, ApiError, ok

if TYPE_CHECKING:
    from .app import HttpService as Service

Endpoint = Callable[[Request], Awaitable[Response]]


async def fleet(request: Request) -> Response:
    svc: Service = request.app.state.svc
    await svc.authorize(request)
    if svc.fleet is None:
        raise ApiError(NOT_FOUND, "not a fleet node (the fleet needs a PostgreSQL database)")
    nodes = await svc.fleet.nodes()
    this = svc.fleet.counters()
    if svc.publisher is not None:
        this["sink"] = svc.publisher.stats()
    return ok({"node_id": svc.fleet.node_id, "this": this, "nodes": nodes})


async def fleet_rooms(svc: Service) -> list[dict[str, Any]]:
    """Every room of the fleet, merged with the local status of the rooms running here."""
    assert svc.fleet is not None
    out = []
    for row in await svc.fleet.room_rows():
        state = svc.rooms.rooms.get(row["room_id"])
        item: dict[str, Any] = await _described(svc, row["room_id"], row["ident"])
        if state is not None and state.fence is not None and row["node"] == svc.fleet.node_id:
            item.update(state.status())
        item.update(
            room_id=row["room_id"],
            node=row["node"],
            epoch=row["epoch"],
            collecting=row["collecting"],
            pinned=row["pinned"],
            lease_expires_at=row["lease_expires_at"],
            lease_expires_in_seconds=row["lease_expires_in_seconds"],
        )
        item.setdefault("lag_seconds", row["lag_seconds"])
        item.setdefault("messages_per_second", row["messages_per_second"])
        item.setdefault("stored", row["stored"])
        item.setdefault("error", row["error"])
        if row["error"] == WAITING and row["collecting"]:  # its owner watches it between broadcasts
            item.update(state="waiting", collecting=False, ended=True, error="", watched=True)
        item.setdefault("state", "live" if row["collecting"] else "")
        out.append(item)
    return out


async def _described(svc: Service, room_id: int, ident: str) -> dict[str, Any]:
    """web_rid, title and anchor of a fleet room, whichever node owns it (from the rooms table,
    which every node writes when it resolves a room; remembered once found)."""
    known = svc.rooms.described
    rec = known.get(room_id)
    if rec is None:
        rec = await svc.store.find_room(room_id=room_id)
        if rec is not None:
            if len(known) > 10_000:
                known.clear()
            known[room_id] = rec
    if rec is None:
        return {"web_rid": ident if not ident.isdigit() else "", "title": "", "anchor": ""}
    return {"web_rid": rec.web_rid, "title": rec.title, "anchor": rec.anchor_nickname}


async def fleet_room(svc: Service, room_id: int) -> dict[str, Any] | None:
    for row in await fleet_rooms(svc):
        if row["room_id"] == room_id:
            return row
    return None


def routes(guard: Callable[[str, Endpoint], Endpoint]) -> list[Route]:
    return [Route("/api/fleet", guard("fleet", fleet), methods=["GET"])]

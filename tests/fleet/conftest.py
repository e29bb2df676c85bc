"""Fixtures of the fleet tests: their own PostgreSQL database and an in-process simulator."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from support.fleetkit import Env
from support.postgres import fresh_database

from dylive.serve import tokens
from dylive.sim import SimConfig, SimServer
from dylive.store.postgres import PostgresStore


@pytest.fixture
def fleet_db() -> Iterator[str]:
    with fresh_database() as url:
        yield url


@pytest.fixture
async def env(fleet_db: str, request: pytest.FixtureRequest) -> AsyncIterator[Env]:
    """The simulator with ``rooms`` live rooms (marker ``pytest.mark.rooms(n)``, default 4)."""
    marker = request.node.get_closest_marker("rooms")
    count = marker.args[0] if marker else 4
    async with PostgresStore(fleet_db) as store:
        token = await tokens.create(store, "fleet-test")
    async with SimServer(SimConfig(seed=7, rate=5.0)) as sim:
        live = [r["web_rid"] for r in sim.rooms() if r["live"]]
        for i in range(count - len(live)):
            sim.create_room(str(880000000 + i))
        for web_rid in live[count:]:
            sim.end(web_rid)
        yield Env(fleet_db, sim, token)

"""The ranklist client retries an empty 200 body (Douyin's refusal) once with a fresh
signature before giving up, against the simulator in strict a_bogus mode."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from dylive.errors import SignatureRefused
from dylive.settings import DEFAULT_USER_AGENT
from dylive.sim import DEFAULT_ROOM_ID, DEFAULT_WEB_RID, SimConfig, SimServer
from dylive.source.ranklist import RANKLIST_PATH, fetch_audience_ranklist


@asynccontextmanager
async def counting_client(
    sim: SimServer, *, heal_after: int | None
) -> AsyncIterator[tuple[httpx.AsyncClient, list[dict[str, list[str]]]]]:
    """A client recording every ranklist query; after ``heal_after`` responses the room's
    ``http_empty`` fault is lifted (None: never)."""
    seen: list[dict[str, list[str]]] = []

    async def on_response(resp: httpx.Response) -> None:
        if resp.request.url.path != RANKLIST_PATH:
            return
        seen.append(parse_qs(urlsplit(str(resp.request.url)).query))
        if heal_after is not None and len(seen) >= heal_after:
            sim.set_faults(DEFAULT_WEB_RID, http_empty=0.0)

    async with httpx.AsyncClient(trust_env=False, event_hooks={"response": [on_response]}) as c:
        yield c, seen


async def fetch(client: httpx.AsyncClient, sim: SimServer, signing: str) -> dict[str, object]:
    return await fetch_audience_ranklist(
        client,
        upstream=sim.base_url,
        room_id=DEFAULT_ROOM_ID,
        web_rid=DEFAULT_WEB_RID,
        user_agent=DEFAULT_USER_AGENT,
        signing=signing,
    )


async def test_one_refusal_is_retried_with_a_fresh_signature() -> None:
    async with SimServer(SimConfig(seed=5, rate=5.0, abogus="full")) as sim:
        sim.set_faults(DEFAULT_WEB_RID, http_empty=1.0)
        async with counting_client(sim, heal_after=1) as (client, seen):
            data = await fetch(client, sim, "v2")
        assert data["currency"] == "音浪" and "ranks" in data
        assert len(seen) == 2
        assert seen[0]["a_bogus"] != seen[1]["a_bogus"]  # re-signed, not replayed
        assert seen[0]["msToken"] != seen[1]["msToken"]


async def test_persistent_refusal_raises_after_exactly_two_attempts() -> None:
    async with SimServer(SimConfig(seed=6, rate=5.0, abogus="full")) as sim:
        sim.set_faults(DEFAULT_WEB_RID, http_empty=1.0)
        async with counting_client(sim, heal_after=None) as (client, seen):
            with pytest.raises(SignatureRefused, match="empty body"):
                await fetch(client, sim, "v2")
        assert len(seen) == 2


async def test_unsigned_request_refused_twice_in_strict_mode() -> None:
    async with SimServer(SimConfig(seed=7, rate=5.0, abogus="full")) as sim:
        async with counting_client(sim, heal_after=None) as (client, seen):
            with pytest.raises(SignatureRefused):
                await fetch(client, sim, "off")
        assert len(seen) == 2 and all("a_bogus" not in q for q in seen)

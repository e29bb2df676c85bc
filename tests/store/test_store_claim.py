"""``claim_position``: the compare-and-set behind cursor-less reads (issue 22, item 2), on both
backends, with two store instances on one database as two processes (two fleet nodes) are."""

from __future__ import annotations

import asyncio

from dylive.store import EventStore, open_store

TOKEN, ROOM = 3, 2**63 + 7


async def test_a_claim_moves_the_position_unless_another_reader_moved_it(store_url: str) -> None:
    async with open_store(store_url) as a, open_store(store_url) as b:
        assert await a.claim_position(TOKEN, ROOM, 0, 10)  # no position yet: inserted
        assert not await b.claim_position(TOKEN, ROOM, 0, 10)  # same page again: lost
        assert not await b.claim_position(TOKEN, ROOM, 5, 12)  # overlaps a's page: lost
        assert await b.get_position(TOKEN, ROOM) == 10
        assert await b.claim_position(TOKEN, ROOM, 10, 20)  # the next page: won
        assert await a.claim_position(TOKEN, ROOM, 20, 20)  # an empty page: still won
        assert await a.get_position(TOKEN, ROOM) == 20
        assert await a.get_position(TOKEN + 1, ROOM) is None  # per token


async def test_concurrent_claims_never_overlap(store_url: str) -> None:
    """Readers on two stores claim pages of 3 from wherever the position stands."""
    won: list[tuple[int, int]] = []

    async def reader(store: EventStore) -> None:
        while True:
            after = await store.get_position(TOKEN, ROOM) or 0
            if after >= 90:
                return
            if await store.claim_position(TOKEN, ROOM, after, after + 3):
                won.append((after, after + 3))

    async with open_store(store_url) as a, open_store(store_url) as b:
        await asyncio.gather(*(reader(s) for s in (a, b, a, b)))
    spans = sorted(won)
    assert spans == [(n, n + 3) for n in range(0, 90, 3)], spans  # each page claimed once

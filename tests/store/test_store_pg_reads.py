"""PostgreSQL page reads for the chat endpoint: ``read_joined`` (one aggregate statement, or
the tail cache) equals ``read`` joined, for every filter and cursor, on interleaved rooms."""

from __future__ import annotations

import orjson
import pytest

from dylive.store import JoinedPage, Record
from dylive.store.postgres import PostgresStore

pytestmark = pytest.mark.postgres

ROOM = 6922580638159719176
BIG_ROOM = (1 << 64) - 5  # stored as a negative BIGINT
METHODS = ("WebcastChatMessage", "WebcastGiftMessage", "WebcastLikeMessage")


def rec(msg_id: int, room: int, method: str) -> Record:
    return Record(room, msg_id, method, 7, orjson.dumps({"msg_id": msg_id}), b"raw")


async def test_joined_reads_equal_row_reads(pg_url: str) -> None:
    async with PostgresStore(pg_url, tail_size=8) as store:
        for start in range(1, 600, 100):  # two rooms interleaved, big msg_ids too
            await store.append(
                [rec(i, ROOM, METHODS[i % 5 % 3]) for i in range(start, start + 100)]
                + [rec((1 << 64) - i, BIG_ROOM, METHODS[i % 3]) for i in range(start, start + 50)]
            )
        await store.read(ROOM, 590, 5)  # installs ROOM's tail (8 rows); BIG_ROOM has none
        last = await store.last_seq(ROOM)
        for room in (ROOM, BIG_ROOM):
            for wanted in (None, frozenset(METHODS[:2]), frozenset(METHODS[1:2]), frozenset()):
                for after, limit in ((0, 50), (3, 300), (last - 12, 5), (last - 3, 10), (last, 3)):
                    got = await store.read_joined(room, after, limit, wanted)
                    want = JoinedPage.of(await store.read(room, after, limit, wanted))
                    assert got == want, (room, wanted, after, limit)
                    assert got.size == len(orjson.loads(b"[" + got.body + b"]"))
        assert (await store.read_joined(ROOM, 0, 0)).size == 0

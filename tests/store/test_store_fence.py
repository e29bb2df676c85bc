"""Fencing: ``append(…, fence=Fence(node, epoch))`` stores the batch only while that node holds
the room's lease at that epoch, checked in the writing transaction, on both backends."""

from __future__ import annotations

import asyncio
import sqlite3

import orjson
import psycopg
import pytest

from dylive.errors import LeaseLost
from dylive.store import Fence, Record, is_postgres_url, open_store
from dylive.store.migrations import to_signed

ROOM = 2**63 + 77  # beyond signed 64 bits: the lease row uses the same mapping as events
OTHER = 7439018246715328306


def rec(msg_id: int, room: int = ROOM) -> Record:
    return Record(room, msg_id, "WebcastChatMessage", 1, orjson.dumps({"m": msg_id}), b"")


def set_lease(url: str, room: int, owner: str, epoch: int) -> None:
    query = (
        "INSERT INTO fleet_rooms (room_id, ident, owner, epoch) VALUES ({p}, 'x', {p}, {p})"
        " ON CONFLICT (room_id) DO UPDATE SET owner = excluded.owner, epoch = excluded.epoch"
    )
    args = (to_signed(room), owner, epoch)
    if is_postgres_url(url):
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(query.format(p="%s"), args)
    else:
        with sqlite3.connect(url) as conn:
            conn.execute(query.format(p="?"), args)


async def test_fenced_append_needs_the_current_epoch(store_url: str) -> None:
    async with open_store(store_url) as store:
        with pytest.raises(LeaseLost):  # no lease row at all
            await store.append([rec(1)], fence=Fence("a", 1))
        set_lease(store_url, ROOM, "a", 1)
        assert await store.append([rec(2)], fence=Fence("a", 1)) == 1
        set_lease(store_url, ROOM, "b", 2)  # taken over by b
        with pytest.raises(LeaseLost) as caught:
            await store.append([rec(3)], fence=Fence("a", 1))
        assert caught.value.node_id == "a" and caught.value.epoch == 1
        assert await store.append([rec(4)], fence=Fence("b", 2)) == 1
        with pytest.raises(LeaseLost):  # same node, an older epoch (it lost and re-took it)
            set_lease(store_url, ROOM, "a", 3)
            await store.append([rec(5)], fence=Fence("a", 1))
        page = await store.read(ROOM, 0, 10)
        assert [m.msg_id for m in page.messages] == [2, 4]


async def test_a_refused_batch_does_not_fail_its_neighbours(store_url: str) -> None:
    """Writes of other rooms queued in the same writer transaction still commit."""
    async with open_store(store_url) as store:
        set_lease(store_url, ROOM, "b", 2)
        results = await asyncio.gather(
            store.append([rec(10)], fence=Fence("a", 1)),
            store.append([rec(11, OTHER)]),
            store.append([rec(12, OTHER)]),
            return_exceptions=True,
        )
        assert isinstance(results[0], LeaseLost)
        assert results[1:] == [1, 1]
        assert [m.msg_id for m in (await store.read(OTHER, 0, 10)).messages] == [11, 12]
        assert (await store.read(ROOM, 0, 10)).messages == []

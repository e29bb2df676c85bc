"""The gift catalogue: fetched from /webcast/gift/list/ once, cached, and used to price a gift
whose message carries no diamond_count; a failing upstream leaves gifts unpriced, never raises."""

from __future__ import annotations

from pathlib import Path

import httpx
import orjson

from dylive.analytics import Analytics, GiftCatalogue
from dylive.decode import decode, render
from dylive.sim import SimConfig, SimServer
from dylive.sim import builders as b
from dylive.sim.catalog import GIFTS_BY_ID
from dylive.sim.users import user_pool
from dylive.store import Record, RoomRecord, open_store
from dylive.wire.frames import RawMessage

ROOM_ID = 7439018246715328306


def unpriced_gift(msg_id: int, gift_id: int, group_id: int) -> Record:
    """A GiftMessage whose GiftStruct lacks diamond_count (as some in-stream gifts do)."""
    user, anchor = user_pool(1, 2, club_name="c", anchor_id=1)
    draft = b.gift(
        user, anchor, GIFTS_BY_ID[gift_id], repeat=1, group_count=3, group_id=group_id,
        end=True, room_tickets=0,
    )  # fmt: skip
    draft.msg.gift.diamond_count = 0
    payload = b.stamp(draft, msg_id=msg_id, room_id=ROOM_ID, now_ms=1_700_000_000_000)
    event = decode(RawMessage("WebcastGiftMessage", msg_id, payload), room_id=ROOM_ID)
    rendered = orjson.dumps(render(event))
    return Record(ROOM_ID, msg_id, "WebcastGiftMessage", 1_700_000_000_000, rendered, payload)


async def test_catalogue_prices_unpriced_gifts(tmp_path: Path) -> None:
    async with SimServer(SimConfig(seed=1)) as sim, httpx.AsyncClient() as http:
        catalogue = GiftCatalogue(http, sim.base_url)
        await catalogue.ensure(4353)
        assert catalogue.prices[4353] == 1200 and catalogue.names[4353] == "跑车"
        await catalogue.ensure(4353)
        assert catalogue.fetches == 1  # cached
        async with open_store(str(tmp_path / "c.db")) as store:
            await store.upsert_room(RoomRecord(ROOM_ID, "80017709309", 2))
            await store.append([unpriced_gift(11, 4353, 5), unpriced_gift(12, 2002, 6)])
            analytics = Analytics(store, catalogue=catalogue)
            sid = (await analytics.catch_up(ROOM_ID)).session.id
            report = await analytics.report(sid)
            assert report is not None
            assert report["gifts"] == 6
            assert report["gift_diamonds"] == 3 * 1200 + 3 * 2
            await analytics.close()


async def test_unreachable_catalogue_leaves_gifts_unpriced(tmp_path: Path) -> None:
    async with httpx.AsyncClient() as http:
        catalogue = GiftCatalogue(http, "http://127.0.0.1:9", retry_after=60)
        await catalogue.ensure(4353)
        await catalogue.ensure(4353)  # not retried within retry_after
        assert catalogue.prices == {} and catalogue.fetches == 1
        async with open_store(str(tmp_path / "u.db")) as store:
            await store.append([unpriced_gift(11, 4353, 5)])
            analytics = Analytics(store, catalogue=catalogue)
            report = await analytics.report((await analytics.catch_up(ROOM_ID)).session.id)
            assert report is not None and report["gifts"] == 3 and report["gift_diamonds"] == 0
            await analytics.close()

"""Gift ``delta`` is stored with the message: the chat endpoint, the SSE stream and export (JSONL
and CSV) all carry it, and summing it never double-counts a combo — across duplicates and across
a collector restart in the middle of a combo (the ledger is rebuilt from the store)."""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import httpx
import orjson
from support.gifts import combo_gift, replay

from dylive.collect.rooms import RoomManager
from dylive.decode import Event
from dylive.serve import tokens
from dylive.serve.app import ServiceConfig
from dylive.sim import DEFAULT_ROOM_ID, DEFAULT_WEB_RID, SimConfig, SimServer
from dylive.source.room import RoomInfo
from dylive.store import SQLiteStore
from dylive.store.export import export_room

CHAT = "/douyin/liveroom/chat"
STREAM = f"/api/rooms/{DEFAULT_WEB_RID}/stream"


def streak_key(m: dict[str, Any]) -> tuple[int, int, int, int]:
    p = m["payload"]
    gift = p["gift"]
    # non-combo gifts (group_id 0) are one gift event each: keyed by msg_id
    group = gift["group_id"] or m["msg_id"]
    return p["user"]["uid"], gift["id"], group, gift["group_count"]


def assert_exact(gifts: Iterable[dict[str, Any]]) -> int:
    """Per streak, the sum of deltas equals the highest count seen; the streak count."""
    sums: dict[tuple[int, int, int, int], int] = {}
    highest: dict[tuple[int, int, int, int], int] = {}
    for m in gifts:
        gift = m["payload"]["gift"]
        assert isinstance(gift.get("delta"), int), f"no delta in {gift}"
        key = streak_key(m)
        sums[key] = sums.get(key, 0) + gift["delta"]
        highest[key] = max(highest.get(key, 0), gift["count"])
    assert sums == highest
    return len(sums)


async def poll_gifts(client: httpx.AsyncClient, token: str, want: int) -> list[dict[str, Any]]:
    gifts: list[dict[str, Any]] = []
    params: dict[str, Any] = {"token": token, "room_id": DEFAULT_WEB_RID, "methods": "gift"}
    for _ in range(300):
        resp = await client.get(CHAT, params={**params, "wait": 2})
        assert resp.status_code == 200, resp.text
        data = orjson.loads(resp.content)["data"]
        gifts.extend(data["messages"])
        params["cursor"] = data["cursor"]
        if len(gifts) >= want:
            return gifts
    raise AssertionError(f"only {len(gifts)} gifts arrived")


async def sse_gifts(client: httpx.AsyncClient, token: str, want: int) -> list[dict[str, Any]]:
    gifts: list[dict[str, Any]] = []
    params = {"token": token, "methods": "gift", "last_event_id": 0}
    async with client.stream("GET", STREAM, params=params) as resp:
        assert resp.status_code == 200
        event = ""
        async with asyncio.timeout(30):
            async for line in resp.aiter_lines():
                if line.startswith("event:"):
                    event = line.split(":", 1)[1].strip()
                elif line.startswith("data:") and event in ("", "message"):
                    gifts.append(orjson.loads(line[5:]))
                    if len(gifts) >= want:
                        return gifts
                elif not line:
                    event = ""
    raise AssertionError("stream ended")


async def test_delta_reaches_chat_sse_and_export(tmp_path: Path, serve_api: Any) -> None:
    async with SimServer(SimConfig(seed=3, rate=60.0, tick=0.05)) as sim:
        config = ServiceConfig(db=str(tmp_path / "g.sqlite3"), upstream=sim.base_url)
        async with (
            serve_api(config) as (base, svc),
            httpx.AsyncClient(base_url=base, timeout=30) as client,
        ):
            token = await tokens.create(svc.store, "gifts")
            first = await client.get(CHAT, params={"token": token, "room_id": DEFAULT_WEB_RID})
            assert first.status_code == 200, first.text
            for gift_id in (463, 2001, 3242):  # two combos and a non-combo gift
                sim.inject(DEFAULT_WEB_RID, "WebcastGiftMessage", gift_id=gift_id)
                sim.inject(DEFAULT_WEB_RID, "WebcastGiftMessage", gift_id=gift_id, count=6)
            gifts = await poll_gifts(client, token, 20)
            assert assert_exact(gifts) >= 4
            assert any(
                m["payload"]["gift"]["delta"] == 1 and m["payload"]["gift"]["count"] > 1
                for m in gifts
            ), "a combo step must add 1, not its cumulative count"
            streamed = await sse_gifts(client, token, 10)
            assert all("delta" in m["payload"]["gift"] for m in streamed)

            out = io.StringIO()
            await export_room(
                svc.store,
                DEFAULT_ROOM_ID,
                out,
                fmt="jsonl",
                methods=frozenset({"WebcastGiftMessage"}),
            )
            exported = [orjson.loads(line) for line in out.getvalue().splitlines()]
            assert len(exported) >= len(gifts)
            assert_exact(exported)

            out = io.StringIO(newline="")
            await export_room(
                svc.store,
                DEFAULT_ROOM_ID,
                out,
                fmt="csv",
                methods=frozenset({"WebcastGiftMessage"}),
            )
            rows = list(csv.DictReader(io.StringIO(out.getvalue())))
            assert len(rows) == len(exported)
            by_id = {m["msg_id"]: m["payload"]["gift"]["delta"] for m in exported}
            assert all(row["gift_delta"] != "" for row in rows)
            assert {int(r["msg_id"]): int(r["gift_delta"]) for r in rows} == by_id


# -- a restart in the middle of a combo ------------------------------------------------------

ROOM_ID = 7_000_000_000_000_000_001
INFO = RoomInfo(web_rid="424242", room_id=ROOM_ID, status=2)


def gift_event(msg_id: int, repeat: int, *, group_id: int = 99, end: bool = False) -> Event:
    return combo_gift(
        msg_id, repeat, room_id=ROOM_ID, uid=5, diamonds=1, group_id=group_id, end=end
    )


async def collect_once(store: SQLiteStore, events: list[Event], expect_rows: int) -> None:
    async def resolver(_ident: str) -> RoomInfo:
        return INFO

    rooms = RoomManager(store, resolver=resolver, source_factory=replay(events))
    await rooms.start([])
    try:
        rooms.touch(1, 0, INFO, True)
        task = rooms.rooms[ROOM_ID].task
        assert task is not None
        await asyncio.wait_for(task, 20)  # the source ended: everything is stored
        assert len((await store.read(ROOM_ID, 0, 1000, None)).messages) == expect_rows
    finally:
        await rooms.stop()


async def test_restart_mid_combo_keeps_the_sum_exact(tmp_path: Path) -> None:
    async with SQLiteStore(str(tmp_path / "r.sqlite3")) as store:
        # first collector: clicks 1..3 of a combo (2 gifts per click)
        await collect_once(store, [gift_event(100 + i, i) for i in (1, 2, 3)], 3)
        # a new collector (restart): the combo goes on at click 4 (what the first collector
        # saw is not sent again), click 3 comes late as a duplicate, click 5 twice; then a
        # second combo of the same user starts afresh
        second = [gift_event(100 + i, i) for i in (4, 3, 5, 5)]
        second += [gift_event(106, 6, end=True), gift_event(200, 1, group_id=100)]
        await collect_once(store, second, 7)
        page = await store.read(ROOM_ID, 0, 1000, None)
    gifts = [orjson.loads(m.rendered) for m in page.messages]
    deltas = {g["msg_id"]: g["payload"]["gift"]["delta"] for g in gifts}
    assert deltas == {101: 2, 102: 2, 103: 2, 104: 2, 105: 2, 106: 2, 200: 2}
    assert sum(deltas.values()) == 6 * 2 + 2

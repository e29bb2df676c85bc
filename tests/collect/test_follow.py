"""Followed rooms keep being collected across broadcasts (issue #20).

A pinned room, and a room kept by a webhook, are ended and restarted three times on the
simulator: three broadcasts (three room_ids, three sessions), every message of each broadcast
stored exactly once (the ground truth is the simulator's log, whose entries carry the room_id of
their broadcast), and each new broadcast collecting within 15 s of its start.
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Any

import httpx
import orjson
from support.receiver import Receiver
from support.service import serving
from support.waiting import until

from dylive.app import ServiceConfig
from dylive.deliver.webhooks import WebhookSettings
from dylive.serve import tokens
from dylive.sim import SimConfig, SimServer

WEB_RID = "700100200300"
SECRET = "whsec_Zm9sbG93LXRlc3Qtc2VjcmV0LTAwMDEtMzJieXRlcyE="
BROADCASTS = 3
FOLLOW_LATENCY = 15.0  # s: a new broadcast is collecting within this after it starts


async def stored_ids(svc: Any, room_id: int) -> list[int]:
    rows = await svc.store.read(room_id, 0, 1_000_000)
    return [m.msg_id for m in rows.messages]


def truth(sim: SimServer, room_id: int) -> list[int]:
    return [int(e["msg_id"]) for e in sim.log(WEB_RID) if int(e["room_id"]) == room_id]


def exactly_once(stored: list[int], log: list[int], *, whole: bool) -> bool:
    """Every message of the broadcast stored once, in order: from its first message (a followed
    broadcast) or from the first one stored (the first broadcast, pinned while it ran)."""
    if not stored or stored[0] not in log:
        return False
    return stored == log[0 if whole else log.index(stored[0]) :]


class Reader:
    """A chat-endpoint client of ``room_id=<web_rid>``: echoing the cursor, or without one (the
    token's stored position)."""

    def __init__(self, client: httpx.AsyncClient, token: str, *, cursor: bool) -> None:
        self.client, self.token, self.use_cursor = client, token, cursor
        self.cursor = ""
        self.ids: list[int] = []

    async def poll(self) -> int:
        params: dict[str, Any] = {"token": self.token, "room_id": WEB_RID, "methods": "all"}
        params["count"] = 200
        if self.use_cursor and self.cursor:
            params["cursor"] = self.cursor
        resp = await self.client.get("/douyin/liveroom/chat", params=params)
        data = orjson.loads(resp.content)["data"]
        self.cursor = data["cursor"]
        self.ids.extend(int(m["msg_id"]) for m in data["messages"])
        return len(data["messages"])

    async def run(self) -> None:
        while True:
            if not await self.poll():
                await asyncio.sleep(0.2)


def read_exactly_once(reader: Reader, expected: list[int]) -> bool:
    """The reader got the stored messages of every broadcast from its first one on, in order."""
    if not reader.ids or reader.ids[0] not in expected:
        return False
    start = expected.index(reader.ids[0])
    return reader.ids == expected[start:]


async def run_broadcasts(sim: SimServer, svc: Any, client: httpx.AsyncClient) -> list[int]:
    """End and restart the room ``BROADCASTS - 1`` times; the room_ids of every broadcast."""
    room_ids = [sim.room_id(WEB_RID)]
    for n in range(BROADCASTS):
        rid = room_ids[-1]
        await until(lambda rid=rid: rid in svc.rooms.rooms, FOLLOW_LATENCY, f"broadcast {n} runs")

        async def some(rid: int = rid) -> bool:
            return len(await stored_ids(svc, rid)) >= 20

        await until(some, 60, f"broadcast {n} stored")
        sim.end(WEB_RID)

        async def complete(rid: int = rid, first: bool = n == 0) -> bool:
            return exactly_once(await stored_ids(svc, rid), truth(sim, rid), whole=not first)

        await until(complete, 30, f"broadcast {n} stored completely")

        def waiting() -> bool:
            followed = svc.rooms.follows.get(WEB_RID)
            return followed is not None and followed.state == "waiting"

        await until(waiting, 30, f"room waiting after broadcast {n}")
        status = (await client.get(f"/api/rooms/{WEB_RID}")).json()["data"]
        assert status["state"] == "waiting" and status["next_check_at"], status
        assert status["last_live_at"] and status["room_id"] == rid, status
        listed = (await client.get("/api/rooms")).json()["data"]["rooms"]
        assert [r["state"] for r in listed if r["web_rid"] == WEB_RID] == ["waiting"], listed
        if n < BROADCASTS - 1:
            sim.start(WEB_RID)
            room_ids.append(sim.room_id(WEB_RID))
    return room_ids


async def check_sessions(
    sim: SimServer, svc: Any, client: httpx.AsyncClient, room_ids: list[int]
) -> None:
    assert len(set(room_ids)) == BROADCASTS
    for n, rid in enumerate(room_ids):
        stored = await stored_ids(svc, rid)
        assert exactly_once(stored, truth(sim, rid), whole=n > 0), f"{rid}: lost or repeated"

    async def sessions() -> list[dict[str, Any]] | None:
        r = await client.get(f"/api/rooms/{WEB_RID}/sessions")
        found: list[dict[str, Any]] = r.json()["data"]["sessions"]
        return found if len(found) == BROADCASTS and all(s["ended_at"] for s in found) else None

    found = await until(sessions, 30, "three ended sessions")
    assert sorted(s["room_id"] for s in found) == sorted(room_ids)


async def test_pinned_room_is_collected_across_three_broadcasts(tmp_path: Path) -> None:
    async with SimServer(SimConfig(seed=21, rate=30.0, tick=0.05)) as sim:
        sim.create_room(WEB_RID, rate=30.0, title="跟播")
        config = ServiceConfig(
            db=str(tmp_path / "f.sqlite3"),
            upstream=sim.base_url,
            signing="v2",
            idle_timeout=1.0,  # a pinned room is followed however long nobody polls it
            follow_interval=2.0,
        )
        async with serving(config) as (base, svc):
            token = await tokens.create(svc.store, "follow")  # type: ignore[attr-defined]
            async with httpx.AsyncClient(
                base_url=base, timeout=30, params={"token": token}
            ) as client:
                resp = await client.post(f"/api/rooms/{WEB_RID}/pin")
                assert resp.status_code == 200, resp.text
                room_ids = await run_broadcasts(sim, svc, client)
                await check_sessions(sim, svc, client, room_ids)


async def test_webhook_kept_room_is_collected_across_three_broadcasts(tmp_path: Path) -> None:
    async with SimServer(SimConfig(seed=22, rate=30.0, tick=0.05)) as sim:
        sim.create_room(WEB_RID, rate=30.0, title="跟播")
        config = ServiceConfig(
            db=str(tmp_path / "w.sqlite3"),
            upstream=sim.base_url,
            signing="v2",
            idle_timeout=5.0,
            follow_interval=2.0,
            webhook_settings=WebhookSettings(
                sync_interval=0.2, keep_interval=1.0, allow_private=True
            ),
        )
        async with serving(config) as (base, svc), Receiver(secret=SECRET) as receiver:
            token = await tokens.create(svc.store, "hook")  # type: ignore[attr-defined]
            async with httpx.AsyncClient(
                base_url=base, timeout=30, params={"token": token}
            ) as client:
                methods = ["all", "live_status"]  # every message, and the opt-in event type
                body = {"url": receiver.url, "rooms": [WEB_RID], "methods": methods}
                resp = await client.post("/api/webhooks", json={**body, "secret": SECRET})
                assert resp.status_code == 200, resp.text
                # vendor clients polling room_id=<web_rid> across the broadcasts
                readers = [
                    Reader(client, await tokens.create(svc.store, name), cursor=with_cursor)  # type: ignore[attr-defined]
                    for name, with_cursor in (("cursor", True), ("position", False))
                ]
                await until(lambda: sim.room_id(WEB_RID) in svc.rooms.rooms, 15, "collecting")
                tasks = [asyncio.create_task(r.run()) for r in readers]
                try:
                    room_ids = await run_broadcasts(sim, svc, client)
                    await check_sessions(sim, svc, client, room_ids)
                    expected = [i for rid in room_ids for i in await stored_ids(svc, rid)]
                    for reader in readers:
                        await until(
                            lambda r=reader: read_exactly_once(r, expected),
                            30,
                            f"chat reader (cursor: {reader.use_cursor}) to read every broadcast",
                        )
                        assert reader.ids[0] in await stored_ids(svc, room_ids[0])
                    for rid in room_ids[1:]:  # the webhook delivered the followed broadcasts
                        want = await stored_ids(svc, rid)
                        await until(
                            lambda r=rid, w=want: set(receiver.got.get(r, [])) >= set(w),
                            30,
                            f"the webhook to deliver broadcast {rid}",
                        )
                    await until(lambda: len(receiver.events) >= 8, 30, "live_status events")
                    told = [(e["status"], e["room_id"]) for e in receiver.events]
                    first, second, third = room_ids
                    assert told == [
                        ("ended", first),
                        ("waiting", first),
                        ("live", second),
                        ("ended", second),
                        ("waiting", second),
                        ("live", third),
                        ("ended", third),
                        ("waiting", third),
                    ], told
                    assert receiver.bad_signatures == 0
                    assert all(e["event"] == "live_status" for e in receiver.events)
                finally:
                    for task in tasks:
                        task.cancel()
                        with contextlib.suppress(asyncio.CancelledError):
                            await task


async def test_a_room_pinned_while_offline_is_listed_waiting_and_collected_when_live(
    tmp_path: Path,
) -> None:
    async with SimServer(SimConfig(seed=25, rate=20.0, tick=0.05)) as sim:
        sim.create_room(WEB_RID, rate=20.0, title="待播")
        sim.end(WEB_RID)  # a past broadcast: the room page names its room_id, not live
        ended = sim.room_id(WEB_RID)
        config = ServiceConfig(
            db=str(tmp_path / "o.sqlite3"), upstream=sim.base_url, follow_interval=2.0
        )
        async with serving(config) as (base, svc):
            token = await tokens.create(svc.store, "offline")  # type: ignore[attr-defined]
            async with httpx.AsyncClient(
                base_url=base, timeout=30, params={"token": token}
            ) as client:
                resp = await client.post(f"/api/rooms/{WEB_RID}/pin")
                assert resp.status_code == 200, resp.text  # followed, not refused as not live
                assert resp.json()["data"]["pinned"] is True
                listed = (await client.get("/api/rooms")).json()["data"]["rooms"]
                row = next(r for r in listed if r["web_rid"] == WEB_RID)
                assert row["state"] == "waiting" and row["pinned"] and row["next_check_at"], row
                one = (await client.get(f"/api/rooms/{WEB_RID}")).json()
                assert one["code"] == 200 and one["data"]["state"] == "waiting", one
                sim.start(WEB_RID)
                second = sim.room_id(WEB_RID)
                assert second != ended
                await until(
                    lambda: second in svc.rooms.rooms,
                    FOLLOW_LATENCY,
                    "the new broadcast",  # type: ignore[attr-defined]
                )

                async def stored_some() -> bool:
                    return len(await stored_ids(svc, second)) >= 10

                await until(stored_some, 30, "the new broadcast stored")
                listed = (await client.get("/api/rooms")).json()["data"]["rooms"]
                assert [r["state"] for r in listed if r["web_rid"] == WEB_RID] == ["live"]

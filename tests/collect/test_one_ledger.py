"""One gift ledger on the service path: the delta computed where a gift is ingested is the one
the chat API shows, the session report sums and the audience ranking (ledger fallback) scores —
for a combo that straddles a service restart and arrives with duplicates. Analytics and the
audience ranking read the stored ``gift.delta``: they build no ledger of their own."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import uvicorn
from support.gifts import combo_gift, replay

from dylive.decode import Event, GiftLedger
from dylive.serve import tokens
from dylive.serve.app import ServiceConfig, create_app
from dylive.source.room import RoomInfo

ROOM_ID = 7_000_000_000_000_000_002
WEB_RID = "515151"
INFO = RoomInfo(web_rid=WEB_RID, room_id=ROOM_ID, status=2)
UID = 5


def gift(msg_id: int, repeat: int, *, group_id: int = 99, end: bool = False) -> Event:
    return combo_gift(
        msg_id, repeat, room_id=ROOM_ID, uid=UID, diamonds=3, group_id=group_id, end=end
    )


async def resolve(_ident: str) -> RoomInfo:
    return INFO


@contextlib.asynccontextmanager
async def serving(config: ServiceConfig) -> AsyncIterator[tuple[httpx.AsyncClient, Any]]:
    """The API under uvicorn on a free port: (client, Service); stopped at the end."""
    app = create_app(config)
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on")
    )
    task = asyncio.create_task(server.serve())
    for _ in range(1000):  # 10 s at most
        if server.started or task.done():
            break
        await asyncio.sleep(0.01)
    assert server.started, "uvicorn did not start"
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            yield client, app.state.svc
    finally:
        server.should_exit = True
        await task


async def until(check: Callable[[], Any], what: str, within: float = 20.0) -> None:
    for _ in range(int(within / 0.02)):
        if await check():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"no {what} within {within} s")


async def run_once(db: str, events: list[Event], rows: int, token: str = "") -> str:
    """One service run collecting ``events`` until the store holds ``rows`` messages."""
    config = ServiceConfig(
        db=db, upstream="http://127.0.0.1:9", ranklist=False,
        resolver=resolve, source_factory=replay(events),
    )  # fmt: skip
    async with serving(config) as (client, svc):
        token = token or await tokens.create(svc.store, "ledger")
        resp = await client.get(
            "/douyin/liveroom/chat", params={"token": token, "room_id": WEB_RID}
        )
        assert resp.status_code == 200, resp.text

        async def stored() -> bool:
            return bool(await svc.store.last_seq(ROOM_ID) >= rows)

        await until(stored, f"{rows} stored messages")
        state = svc.rooms.rooms.get(ROOM_ID)
        if state is not None and state.task is not None:
            await asyncio.wait_for(asyncio.shield(state.task), 20)  # the source ended
    return token


async def test_one_delta_in_chat_report_and_ranking(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    built: list[GiftLedger] = []
    original = GiftLedger.__init__

    def counting(self: GiftLedger, *args: Any, **kwargs: Any) -> None:
        built.append(self)
        original(self, *args, **kwargs)

    monkeypatch.setattr(GiftLedger, "__init__", counting)
    db = str(tmp_path / "ledger.sqlite3")
    # first run: clicks 1..3 of a combo; then the service stops (a restart mid-combo)
    token = await run_once(db, [gift(100 + i, i) for i in (1, 2, 3)], 3)
    assert len(built) == 1, "one ledger per room pipeline (rebuilt from the store)"
    # second run: the combo goes on at click 4; click 3 comes again (a duplicate of a stored
    # message), click 5 twice (a duplicate within the run); a second combo starts afresh
    second = [gift(100 + i, i) for i in (4, 3, 5, 5)]
    second += [gift(106, 6, end=True), gift(200, 1, group_id=100)]
    config = ServiceConfig(
        db=db, upstream="http://127.0.0.1:9", ranklist=False,
        resolver=resolve, source_factory=replay(second),
    )  # fmt: skip
    async with serving(config) as (client, svc):
        params = {"token": token, "room_id": WEB_RID}
        resp = await client.get("/douyin/liveroom/chat", params=params)
        assert resp.status_code == 200, resp.text

        async def stored() -> bool:
            return bool(await svc.store.last_seq(ROOM_ID) >= 7)

        await until(stored, "7 stored messages")
        assert len(built) == 2, "the restarted room rebuilt its one ledger from the store"

        # the chat API: every gift once, its stored delta
        resp = await client.get(
            "/douyin/liveroom/chat",
            params={**params, "methods": "gift", "cursor": "0_0_0_1", "count": 100},
        )
        assert resp.status_code == 200, resp.text
        messages = orjson.loads(resp.content)["data"]["messages"]
        deltas = {m["msg_id"]: m["payload"]["gift"]["delta"] for m in messages}
        assert deltas == {101: 2, 102: 2, 103: 2, 104: 2, 105: 2, 106: 2, 200: 2}
        gifts = sum(deltas.values())

        # the session report
        resp = await client.get(f"/api/rooms/{WEB_RID}/sessions", params={"token": token})
        assert resp.status_code == 200, resp.text
        (session,) = orjson.loads(resp.content)["data"]["sessions"]
        resp = await client.get(f"/api/sessions/{session['id']}/report", params={"token": token})
        assert resp.status_code == 200, resp.text
        report = orjson.loads(resp.content)["data"]
        assert report["gifts"] == gifts
        assert report["gift_diamonds"] == gifts * 3
        assert [(g["uid"], g["gifts"]) for g in report["top_gifters"]] == [(UID, gifts)]

        # the audience ranking (ranklist off: the ledger fallback)
        resp = await client.get("/douyin/liveroom/audience", params=params)
        assert resp.status_code == 200, resp.text
        data = orjson.loads(resp.content)["data"]
        assert data["source"] == "ledger"
        assert [(r["user"]["id"], r["score"]) for r in data["data"]["ranks"]] == [(UID, gifts * 3)]
    # neither analytics nor the ranking built a ledger: they read the stored delta
    assert len(built) == 2

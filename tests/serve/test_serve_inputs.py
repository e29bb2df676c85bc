"""Hostile and careless input: 4xx envelopes, never a 500; positions that stay exact.

Reproductions from the field: unicode digits (``²``, full-width) and numbers of more than 4,300
digits in ``room_id``/``cursor``/``internal_ext``/paths answered 500; a made-up room_id above
2^64 started a collector and made ``GET /api/rooms`` answer 500; a 100 KB Authorization header
got a plain-text 400; unauthenticated requests were not rate limited; error details echoed a
100 KB room_id; 8 concurrent cursor-less pollers of one token received 2,198 duplicates; a HEAD
request moved the token's read position.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import uvicorn

from dylive.serve import errors, tokens
from dylive.serve.app import ServiceConfig, create_app
from dylive.serve.limits import server_config
from dylive.sim import SimConfig, SimServer
from dylive.store import Record, RoomRecord, SQLiteStore
from dylive.store.dburl import redact
from dylive.store.export import csv_row, neutralise

CHAT = "/douyin/liveroom/chat"
AUDIENCE = "/douyin/liveroom/audience"
ROOM = 7400000000000000001
WEB_RID = "555000111222"
HUGE = "1" * 5000


@contextlib.asynccontextmanager
async def served(config: ServiceConfig) -> AsyncIterator[tuple[httpx.AsyncClient, Any]]:
    """The app under ``dylive serve``'s own uvicorn configuration, on a free port."""
    app = create_app(config)
    server = uvicorn.Server(server_config(app, "127.0.0.1", 0, lifespan="on"))
    task = asyncio.create_task(server.serve())
    try:
        async with asyncio.timeout(30):
            while not server.started:
                assert not task.done(), "uvicorn did not start"
                await asyncio.sleep(0.01)
        port = server.servers[0].sockets[0].getsockname()[1]
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            yield client, app.state.svc
    finally:
        server.should_exit = True
        await task


def offline(tmp_path: Path, **kw: Any) -> ServiceConfig:
    """Upstream unreachable (port 9): only what the store holds can be served."""
    return ServiceConfig(
        db=str(tmp_path / "i.sqlite3"), upstream="http://127.0.0.1:9", ranklist=False, **kw
    )


def check_envelope(resp: httpx.Response) -> dict[str, Any]:
    assert resp.headers["content-type"].startswith("application/json"), resp.text[:200]
    body: dict[str, Any] = orjson.loads(resp.content)
    assert set(body) == {"code", "msg", "data"}
    status = {k.code: k.status for k in errors.ALL_ERRORS}.get(body["code"], 200)
    assert resp.status_code == status, body
    detail = body["data"].get("detail", "") if isinstance(body["data"], dict) else ""
    assert len(detail) <= errors.DETAIL_MAX
    return body


async def stored_room(svc: Any, n: int) -> None:
    """A room with ``n`` stored chat messages (served from the store, upstream down)."""
    await svc.store.upsert_room(RoomRecord(ROOM, WEB_RID, 2, title="stored"))
    records = [
        Record(ROOM, 1000 + i, "WebcastChatMessage", i, orjson.dumps({"msg_id": 1000 + i}))
        for i in range(n)
    ]
    await svc.store.append(records)


BAD_NUMBERS = ["²", "６１５１８９６９２８３９", HUGE, "9223372036854775808", "18446744073709551617"]


async def test_bad_numbers_are_4xx_envelopes_never_500(tmp_path: Path) -> None:
    async with served(offline(tmp_path)) as (client, svc):
        token = await tokens.create(svc.store, "t")
        await stored_room(svc, 5)
        probes: list[tuple[str, dict[str, str]]] = []
        for bad in BAD_NUMBERS:
            for path in (CHAT, AUDIENCE):
                probes.append((path, {"room_id": bad}))
            probes.append((f"/api/rooms/{bad}", {}))
            probes.append((f"/api/rooms/{bad}/stream", {}))
            for extra in (
                {"cursor": f"1_2_{bad}_1"},
                {"cursor": bad},
                {"internal_ext": f"seq:{bad}"},
                {"count": bad},
                {"wait": bad},
            ):
                probes.append((CHAT, {"room_id": WEB_RID, **extra}))
            probes.append((f"/api/rooms/{WEB_RID}/stream", {"last_event_id": bad}))
        for path, params in probes:
            resp = await client.get(path, params={"token": token, **params})
            body = check_envelope(resp)
            assert 400 <= resp.status_code < 500, (path, params, body)
        assert svc.rooms.rooms == {}  # nothing started
        listing = await client.get("/api/rooms", params={"token": token})
        assert listing.status_code == 200


async def test_room_ids_beyond_int64_start_nothing(tmp_path: Path) -> None:
    async with served(offline(tmp_path)) as (client, svc):
        token = await tokens.create(svc.store, "t")
        for room_id in ("9223372036854775808", "18446744073709551617", str(2**70)):
            resp = await client.get(CHAT, params={"token": token, "room_id": room_id})
            assert check_envelope(resp)["code"] == errors.BAD_ROOM.code
        assert svc.rooms.rooms == {}
        assert (await client.get("/api/rooms", params={"token": token})).status_code == 200


async def test_a_room_upstream_does_not_know_starts_nothing(tmp_path: Path) -> None:
    async with SimServer(SimConfig(seed=51, rate=5.0)) as sim:
        config = ServiceConfig(db=str(tmp_path / "u.db"), upstream=sim.base_url, signing="off")
        async with served(config) as (client, svc):
            token = await tokens.create(svc.store, "t")
            for ident in ("7400000000000000099", "999999999"):
                resp = await client.get(CHAT, params={"token": token, "room_id": ident})
                assert check_envelope(resp)["code"] == errors.UNKNOWN_ROOM.code
            assert svc.rooms.rooms == {}


async def test_oversized_input_gets_the_envelope_and_short_details(tmp_path: Path) -> None:
    async with served(offline(tmp_path)) as (client, svc):
        token = await tokens.create(svc.store, "t")
        resp = await client.get(CHAT, headers={"Authorization": "Bearer " + "x" * 100_000})
        assert check_envelope(resp)["code"] == errors.HEADERS_TOO_LARGE.code
        # (httpx refuses URLs over 64 KiB: 60 KB of room_id)
        resp = await client.get(CHAT, params={"token": token, "room_id": "a" * 60_000})
        body = check_envelope(resp)
        assert body["code"] == errors.BAD_ROOM.code and body["data"]["detail"].endswith("…")


async def test_requests_without_a_valid_token_are_rate_limited_per_address(
    tmp_path: Path,
) -> None:
    async with served(offline(tmp_path, anon_rate=2.0)) as (client, svc):
        token = await tokens.create(svc.store, "t")
        codes = [
            check_envelope(await client.get(CHAT, params={"token": "dyl_wrong"}))["code"]
            for _ in range(6)
        ]
        assert codes[0] == errors.BAD_TOKEN.code and errors.RATE_LIMITED.code in codes
        limited = await client.get(CHAT)
        assert limited.status_code == 429 and int(limited.headers["retry-after"]) >= 1
        ok = await client.get("/api/rooms", params={"token": token})  # a valid token: not limited
        assert ok.status_code == 200


async def test_head_never_moves_the_position(tmp_path: Path) -> None:
    async with served(offline(tmp_path)) as (client, svc):
        token = await tokens.create(svc.store, "t")
        await stored_room(svc, 30)
        params = {"token": token, "room_id": WEB_RID, "methods": "all", "count": "10"}
        first = orjson.loads((await client.get(CHAT, params=params)).content)["data"]
        assert [m["msg_id"] for m in first["messages"]] == list(range(1020, 1030))  # backlog
        await svc.store.append(
            [
                Record(ROOM, 1030 + i, "WebcastChatMessage", i, orjson.dumps({"msg_id": 1030 + i}))
                for i in range(20)
            ]
        )
        for _ in range(3):
            head = await client.head(CHAT, params=params)
            assert head.status_code == 200
        nxt = orjson.loads((await client.get(CHAT, params=params)).content)["data"]
        assert [m["msg_id"] for m in nxt["messages"]] == list(range(1030, 1040))


async def test_concurrent_cursorless_pollers_get_every_message_once(tmp_path: Path) -> None:
    async with served(offline(tmp_path)) as (client, svc):
        token = await tokens.create(svc.store, "t")
        await stored_room(svc, 1)
        params = {"token": token, "room_id": WEB_RID, "methods": "all", "count": "7"}
        first = orjson.loads((await client.get(CHAT, params=params)).content)["data"]
        got = [m["msg_id"] for m in first["messages"]]
        await svc.store.append(
            [
                Record(ROOM, 2000 + i, "WebcastChatMessage", i, orjson.dumps({"msg_id": 2000 + i}))
                for i in range(400)
            ]
        )

        async def poller() -> list[int]:
            mine: list[int] = []
            for _ in range(40):
                data = orjson.loads((await client.get(CHAT, params=params)).content)["data"]
                mine += [m["msg_id"] for m in data["messages"]]
            return mine

        for part in await asyncio.gather(*(poller() for _ in range(8))):
            got += part
        assert sorted(got) == got[:1] + list(range(2000, 2400))  # every message exactly once


async def test_405_carries_allow_and_openapi_declares_paths(tmp_path: Path) -> None:
    async with served(offline(tmp_path)) as (client, _svc):
        resp = await client.post(CHAT)
        assert check_envelope(resp)["code"] == errors.METHOD_NOT_ALLOWED.code
        assert "GET" in resp.headers["allow"]
        doc = orjson.loads((await client.get("/openapi.json")).content)
    for path, ops in doc["paths"].items():
        for spec in ops.values():
            names = {p["name"] for p in spec.get("parameters", []) if p["in"] == "path"}
            assert names == set(re.findall(r"{(\w+)}", path)), path
    assert "/api/rooms/{room}/stream" in doc["paths"] and "/dashboard" in doc["paths"]
    room_id = next(p for p in doc["paths"][CHAT]["get"]["parameters"] if p["name"] == "room_id")
    assert room_id["schema"]["pattern"].startswith("^")


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://me:s3cret@db:5432/x", "postgresql://me:***@db:5432/x"),
        (
            "postgresql://me@db/x?password=s3cret&sslmode=require",
            "postgresql://me@db/x?password=***&sslmode=require",
        ),
        ("host=db user=me password=s3cret dbname=x", "host=db user=me password=*** dbname=x"),
        ("postgresql://db/x?sslpassword=s3cret", "postgresql://db/x?sslpassword=***"),
        ("/var/lib/dylive.sqlite3", "/var/lib/dylive.sqlite3"),
    ],
)
def test_database_urls_are_redacted(url: str, shown: str) -> None:
    assert redact(url) == shown


async def test_token_commands_fail_in_one_line_when_the_database_is_unreachable() -> None:
    for args in (("list",), ("revoke", "x"), ("create", "--name", "x")):
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            *("-m", "dylive", "token", *args, "--db"),
            "postgresql://nobody:s3cret@127.0.0.1:9/nodb?connect_timeout=2",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        _out, err = await asyncio.wait_for(proc.communicate(), 60)
        assert proc.returncode == 1, err
        lines = err.decode().strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("dylive token:"), err
        assert "s3cret" not in lines[0] and "Traceback" not in lines[0]


def test_csv_cells_are_neutralised() -> None:
    for text in ("=1+1", "+cmd", "-2", "@SUM(A1)", "\tx", "\rx"):
        assert neutralise(text) == "'" + text
    assert neutralise("你好") == "你好" and neutralise("") == ""
    from dylive.store.base import StoredMessage

    body = {"payload": {"content": "=HYPERLINK(1)", "user": {"nickname": "@x", "uid": 5}}}
    row = csv_row(StoredMessage(1, ROOM, 9, "WebcastChatMessage", 1, 2, orjson.dumps(body)))
    assert row[6] == "'@x" and row[8] == "'=HYPERLINK(1)" and row[5] == "5"


async def test_new_tokens_get_the_default_room_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with SQLiteStore(tmp_path / "t.db") as store:
        await tokens.create(store, "default")
        await tokens.create(store, "unlimited", room_limit=0)
        monkeypatch.setenv("DYLIVE_ROOM_LIMIT", "3")
        await tokens.create(store, "env")
        limits = {t.name: t.room_limit for t in await store.list_tokens()}
    assert limits == {"default": 10, "unlimited": 0, "env": 3}

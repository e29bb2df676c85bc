"""Usage metering across a SIGKILL and across two fleet nodes (``dylive serve`` processes): the
figures equal the requests the test made, by endpoint and code, once the flush interval has
passed; ``dylive usage`` prints the same figures from the database."""

from __future__ import annotations

import asyncio
import csv
import io
import signal
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from support.postgres import fresh_database
from support.process import run_dylive, start_serve
from support.waiting import until

from dylive.serve import tokens
from dylive.store import Quota, SQLiteStore, open_store

OFFLINE = "http://127.0.0.1:9"  # no upstream: /api/rooms answers 200, chat without room 40003
FLUSH = "0.3"


async def make_requests(base: str, token: str, made: Counter[tuple[str, int]], n: int) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        for _ in range(n):
            resp = await client.get("/api/rooms", params={"token": token})
            made["rooms", resp.json()["code"]] += 1
            resp = await client.get("/douyin/liveroom/chat", params={"token": token})
            made["chat", resp.json()["code"]] += 1
        resp = await client.get("/douyin/liveroom/chat", params={"token": token, "room_id": "x"})
        made["chat", resp.json()["code"]] += 1


def by_endpoint(made: Counter[tuple[str, int]]) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for (endpoint, code), n in made.items():
        out.setdefault(endpoint, {})[str(code)] = n
    return out


async def stored(db: str, token_id: int) -> dict[str, dict[str, int]]:
    """{endpoint: {code: requests}} as the database holds them (every node's flushes)."""
    async with open_store(db) as store:
        rows = await store.usage(token_id, 0, 2**62)
    out: dict[str, dict[str, int]] = {}
    for row in rows:
        codes = out.setdefault(row.endpoint, {})
        codes[str(row.code)] = codes.get(str(row.code), 0) + row.requests
    return out


async def test_usage_survives_a_sigkill_within_the_flush_interval(tmp_path: Path) -> None:
    db = str(tmp_path / "usage.sqlite3")
    async with SQLiteStore(db) as store:
        token = await tokens.create(store, "durable")
        token_id = (await store.list_tokens())[0].id
    made: Counter[tuple[str, int]] = Counter()
    proc, base = await start_serve(db, OFFLINE, "--usage-flush", FLUSH)
    try:
        await make_requests(base, token, made, 15)
        assert made["rooms", 200] == 15 and made["chat", 40003] == 15 and made["chat", 40004]
        # within the flush interval every count is in the database …
        expected = by_endpoint(made)
        await until(lambda: _same(db, token_id, expected), 20, "the counts flushed")
    finally:
        proc.send_signal(signal.SIGKILL)  # … so a SIGKILL loses none of them
        await proc.wait()
    proc, base = await start_serve(db, OFFLINE, "--usage-flush", FLUSH)
    try:
        async with httpx.AsyncClient(base_url=base, timeout=30) as client:
            resp = await client.get("/api/usage", params={"token": token})
            total = orjson.loads(resp.content)["data"]["total"]
            assert total["by_endpoint"] == expected
            assert total["billable"] == 15
        made["usage", 200] += 1
        await make_requests(base, token, made, 5)
    finally:
        proc.send_signal(signal.SIGTERM)  # a graceful stop flushes what is left at once
        # uvicorn stops gracefully, then re-raises the signal: -SIGTERM after a clean shutdown
        assert await asyncio.wait_for(proc.wait(), 30) in (0, -signal.SIGTERM)
    assert await stored(db, token_id) == by_endpoint(made)
    # the operator's view: dylive usage, from the database
    code, out, err = await run_dylive("usage", "--db", db, "--format", "csv")
    assert code == 0, err
    rows = list(csv.DictReader(io.StringIO(out)))
    assert len(rows) == 1 and rows[0]["token"] == "durable"
    assert int(rows[0]["requests"]) == sum(made.values())
    assert int(rows[0]["billable"]) == made["rooms", 200] + made["usage", 200]
    code, out, err = await run_dylive("usage", "--db", db, "--token", "durable", "--format", "json")
    assert code == 0, err
    report = orjson.loads(out)["tokens"][0]
    assert report["total"]["by_endpoint"] == by_endpoint(made)
    code, out, err = await run_dylive("usage", "--db", db, "--granularity", "hour")
    assert code == 0 and out.splitlines()[0].split()[:3] == ["token", "period", "requests"]
    assert "durable" in out.splitlines()[1]
    code, out, err = await run_dylive("usage", "--db", db, "--token", "nobody")
    assert code == 1 and "no token named 'nobody'" in err


async def _same(db: str, token_id: int, expected: Any) -> bool:
    return await stored(db, token_id) == expected


@pytest.mark.postgres
async def test_two_fleet_nodes_add_up_to_one_figure(tmp_path: Path) -> None:
    with fresh_database() as db:
        async with open_store(db) as store:
            token = await tokens.create(store, "fleet-customer")
            token_id = (await store.list_tokens())[0].id
        made: Counter[tuple[str, int]] = Counter()
        nodes = []
        try:
            for name in ("n1", "n2"):
                nodes.append(
                    await start_serve(db, OFFLINE, "--node-id", name, "--usage-flush", FLUSH)
                )
            await asyncio.gather(
                make_requests(nodes[0][1], token, made, 12),
                make_requests(nodes[1][1], token, made, 7),
            )
            expected = by_endpoint(made)
            await until(lambda: _same(db, token_id, expected), 20, "both nodes flushed")
            for _proc, base in nodes:  # every node answers the same total
                async with httpx.AsyncClient(base_url=base, timeout=30) as client:
                    resp = await client.get("/api/usage", params={"token": token})
                    total = orjson.loads(resp.content)["data"]["total"]
                    # the first node's usage read may be flushed before the second one reads
                    reads = total["by_endpoint"].pop("usage", {}).get("200", 0)
                    assert total["by_endpoint"] == expected
                    assert total["billable"] - reads == 19
        finally:
            for proc, _base in nodes:
                if proc.returncode is None:
                    proc.kill()
                await proc.wait()


@pytest.mark.postgres
async def test_a_quota_holds_across_fleet_nodes(tmp_path: Path) -> None:
    with fresh_database() as db:
        async with open_store(db) as store:
            token = await tokens.create(store, "fleet-plan", quota=Quota(requests_per_day=10))
            token_id = (await store.list_tokens())[0].id
        nodes = []
        try:
            for name in ("q1", "q2"):
                nodes.append(
                    await start_serve(db, OFFLINE, "--node-id", name, "--usage-flush", FLUSH)
                )
            (_, one), (_, two) = nodes
            async with (
                httpx.AsyncClient(base_url=one, timeout=30) as n1,
                httpx.AsyncClient(base_url=two, timeout=30) as n2,
            ):
                for _ in range(6):
                    assert (await n1.get("/api/rooms", params={"token": token})).status_code == 200
                await until(lambda: _billable(db, token_id, 6), 20, "node 1 flushed")
                # node 2 starts from the fleet's figure: 4 more, then refused
                for left in (3, 2, 1, 0):
                    resp = await n2.get("/api/rooms", params={"token": token})
                    assert resp.status_code == 200, resp.text
                    assert resp.headers["x-ratelimit-remaining"] == str(left)
                refused = await n2.get("/api/rooms", params={"token": token})
                assert refused.status_code == 429 and refused.json()["data"]["used"] == 10
                await until(lambda: _billable(db, token_id, 10), 20, "node 2 flushed")

                async def node1_refuses() -> bool:
                    resp = await n1.get("/api/rooms", params={"token": token})
                    return resp.status_code == 429

                await until(node1_refuses, 20, "node 1 refuses once it re-read the totals")
        finally:
            for proc, _base in nodes:
                if proc.returncode is None:
                    proc.kill()
                await proc.wait()


async def _billable(db: str, token_id: int, at_least: int) -> bool:
    async with open_store(db) as store:
        totals = await store.usage_totals([token_id], 0)
    return totals.get(token_id, (0, 0))[0] >= at_least

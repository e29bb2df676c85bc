"""Helpers for the fleet tests: a database of their own, `dylive serve` nodes as subprocesses,
and checks of stored messages against the simulator's ground-truth log."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson
import psycopg

from dylive.sim import SimServer
from dylive.store.migrations import to_signed, to_unsigned
from support import waiting
from support.process import start_serve


async def until(
    check: Callable[[], Awaitable[Any]], within: float, what: str, every: float = 0.2
) -> Any:
    """:func:`support.waiting.until` at the fleet tests' pace (every 0.2 s: nodes are processes)."""
    return await waiting.until(check, within, what, every)


@dataclass
class Env:
    """A fleet test's database, simulator and API token."""

    db: str
    sim: SimServer
    token: str

    def live_rooms(self) -> list[str]:
        return [r["web_rid"] for r in self.sim.rooms() if r["live"]]


@dataclass
class Node:
    node_id: str
    proc: asyncio.subprocess.Process
    base: str
    log: Path
    client: httpx.AsyncClient = field(init=False)

    def __post_init__(self) -> None:
        self.client = httpx.AsyncClient(base_url=self.base, timeout=30)

    @property
    def alive(self) -> bool:
        return self.proc.returncode is None

    def signal(self, sig: int) -> None:
        self.proc.send_signal(sig)

    async def get(self, path: str, token: str, **params: Any) -> Any:
        resp = await self.client.get(path, params={"token": token, **params})
        assert resp.status_code == 200, (self.node_id, path, resp.text)
        return orjson.loads(resp.content)["data"]

    async def close(self) -> None:
        await self.client.aclose()
        if self.alive:
            self.proc.send_signal(signal.SIGCONT)
            self.proc.kill()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.proc.wait(), 10)


async def start_node(
    db: str, upstream: str, node_id: str, tmp: Path, *extra: str, env: dict[str, str] | None = None
) -> Node:
    log = tmp / f"{node_id}.log"
    proc, base = await start_serve(
        db, upstream, "--signing", "off", "--no-ranklist", "--node-id", node_id, *extra,
        log_level="info", env=env, log=log,
    )  # fmt: skip
    return Node(node_id, proc, base, log)


@contextlib.asynccontextmanager
async def fleet(
    db: str, upstream: str, tmp: Path, count: int, *extra: str, env: dict[str, str] | None = None
) -> AsyncIterator[list[Node]]:
    nodes: list[Node] = []
    try:
        for i in range(count):
            nodes.append(await start_node(db, upstream, f"n{i + 1}", tmp, *extra, env=env))
        yield nodes
    finally:
        await asyncio.gather(*(n.close() for n in nodes))


def stored_msg_ids(db: str, room_id: int) -> list[int]:
    """Every stored msg_id of a room, in seq order."""
    with psycopg.connect(db, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT msg_id FROM events WHERE room_id = %s ORDER BY seq", (to_signed(room_id),)
        ).fetchall()
    return [to_unsigned(r[0]) for r in rows]


def loss_report(stored: list[int], truth: list[int]) -> tuple[int, int]:
    """``(lost, duplicated)`` of ``stored`` against the simulator's log, from the first stored
    message to the last one (messages before the first store and after the last are out of
    scope)."""
    dup = len(stored) - len(set(stored))
    if not stored:
        return 0, dup
    have = set(stored)
    index = {m: i for i, m in enumerate(truth)}
    spans = [index[m] for m in have if m in index]
    if not spans:
        return len(truth), dup
    window = truth[min(spans) : max(spans) + 1]
    return sum(1 for m in window if m not in have), dup


# -- fleet views (through any node's API) -------------------------------------------------
async def pin_all(node: Node, env: Env) -> None:
    for web_rid in env.live_rooms():
        resp = await node.client.post(f"/api/rooms/{web_rid}/pin", params={"token": env.token})
        assert resp.status_code == 200, resp.text


async def owners(node: Node, env: Env) -> dict[str, list[int]]:
    """node id -> rooms it collects, as any node reports it."""
    out: dict[str, list[int]] = {}
    for row in (await node.get("/api/rooms", env.token))["rooms"]:
        if row["collecting"]:
            out.setdefault(row["node"], []).append(row["room_id"])
    return out


async def spread_over(node: Node, env: Env, nodes: Sequence[Node]) -> dict[str, list[int]]:
    """Wait until every room is collected and every node holds at least one."""
    wanted = len(env.live_rooms())

    async def check() -> dict[str, list[int]] | None:
        got = await owners(node, env)
        placed = sum(len(v) for v in got.values())
        return got if placed == wanted and set(got) == {n.node_id for n in nodes} else None

    return await until(check, 45, "every room collected, spread over every node")


async def storing(env: Env, rooms: Sequence[int], after: dict[int, int]) -> bool:
    """Each room has more stored messages than ``after`` says."""
    return all(len(stored_msg_ids(env.db, r)) > after.get(r, 0) for r in rooms)

"""The NATS JetStream sink against the real server: every stored message reaches a JetStream
consumer exactly once, across a SIGKILL of the node that published it."""

from __future__ import annotations

import contextlib
import signal
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import nats
import pytest
from support.fleetkit import Env, fleet, owners, pin_all, spread_over, storing, until

from dylive.deliver.nats import NatsTarget, short_name
from dylive.store.migrations import to_unsigned

pytestmark = [pytest.mark.postgres, pytest.mark.fleet, pytest.mark.timeout(90)]

NATS_URL = "nats://127.0.0.1:4222"


@pytest.fixture
async def stream() -> AsyncIterator[tuple[str, str]]:
    """A unique stream name and subject prefix; the stream is deleted afterwards."""
    tag = uuid.uuid4().hex[:10]
    name, prefix = f"DYLIVE_T_{tag}", f"dylive_t_{tag}.room"
    try:
        nc = await nats.connect(NATS_URL, connect_timeout=3, max_reconnect_attempts=0)
    except Exception as exc:
        pytest.skip(f"NATS unreachable at {NATS_URL}: {exc}")
    try:
        yield name, prefix
    finally:
        with contextlib.suppress(nats.js.errors.NotFoundError):
            await nc.jetstream().delete_stream(name)
        await nc.close()


def test_subjects_and_urls() -> None:
    assert short_name("WebcastChatMessage") == "chat"
    assert short_name("WebcastRoomUserSeqMessage") == "room_user_seq"
    assert short_name("Webcast.Weird*Message") == "_weird_"
    target = NatsTarget.parse("nats://127.0.0.1:4222?stream=S1&prefix=a.b")
    assert (target.server, target.stream, target.prefix) == ("nats://127.0.0.1:4222", "S1", "a.b")
    assert target.subject(7, "WebcastGiftMessage") == "a.b.7.gift"


def stored(db: str) -> list[int]:
    import psycopg

    with psycopg.connect(db, autocommit=True) as conn:
        return [to_unsigned(r[0]) for r in conn.execute("SELECT msg_id FROM events ORDER BY seq")]


async def consume(name: str, prefix: str) -> list[tuple[str, int]]:
    """Every message of the stream, as (subject, Nats-Msg-Id), through a JetStream consumer."""
    nc = await nats.connect(NATS_URL)
    try:
        js = nc.jetstream()
        sub = await js.pull_subscribe(f"{prefix}.>", stream=name)
        out: list[tuple[str, int]] = []
        while True:
            try:
                msgs = await sub.fetch(500, timeout=2)
            except (nats.errors.TimeoutError, TimeoutError):
                return out
            for m in msgs:
                out.append((m.subject, int(m.headers["Nats-Msg-Id"])))
                await m.ack()
    finally:
        await nc.close()


async def stream_count(name: str) -> int:
    nc = await nats.connect(NATS_URL)
    try:
        return int((await nc.jetstream().stream_info(name)).state.messages)
    finally:
        await nc.close()


@pytest.mark.rooms(3)
async def test_every_stored_message_once_across_a_node_crash(
    env: Env, tmp_path: Path, stream: tuple[str, str]
) -> None:
    name, prefix = stream
    sink = f"{NATS_URL}?stream={name}&prefix={prefix}"
    async with fleet(env.db, env.sim.base_url, tmp_path, 2, "--sink", sink) as nodes:
        await pin_all(nodes[0], env)
        placed = await spread_over(nodes[0], env, nodes)
        victim = next(n for n in nodes if n.node_id in placed)
        survivor = next(n for n in nodes if n is not victim)
        rooms = placed[victim.node_id]
        await until(lambda: _published(name, 50), 30, "the sink publishing")
        victim.signal(signal.SIGKILL)

        async def moved() -> bool:
            got = await owners(survivor, env)
            return set(rooms) <= set(got.get(survivor.node_id, []))

        await until(moved, 30, "the rooms taken over")
        await until(lambda: storing(env, rooms, {}), 30, "the new owner storing")
        for web_rid in env.live_rooms():
            env.sim.set_rate(web_rid, 0)  # quiet: what is stored can be counted

        async def caught_up() -> bool:
            return len(stored(env.db)) == await stream_count(name)

        await until(caught_up, 40, "the stream holding every stored message")
    ids = stored(env.db)
    got = await consume(name, prefix)
    assert len(got) == len(ids) and len({m for _, m in got}) == len(ids), "lost or duplicated"
    assert {m for _, m in got} == set(ids)
    assert all(s.startswith(f"{prefix}.") and len(s.split(".")) == 4 for s, _ in got)


async def _published(name: str, at_least: int) -> bool:
    try:
        return await stream_count(name) >= at_least
    except nats.js.errors.NotFoundError:
        return False

"""``dylive serve --sink nats://…`` when NATS is not there: the service starts anyway, says why
in ``/healthz``, keeps the stored messages in the outbox and publishes them once NATS comes; it
stops on SIGTERM either way, and logs one line per reason (no tracebacks). Without nats-py the
sink is refused in one line, as the other extras are."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sqlite3
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import nats
import orjson
import pytest
from support.process import serve_process, start_serve
from support.waiting import until

from dylive.sim import DEFAULT_WEB_RID, SimConfig, SimServer
from dylive.sim.tcpproxy import TcpProxy

pytestmark = pytest.mark.timeout(120)

NATS_HOST, NATS_PORT = "127.0.0.1", 4222


@pytest.fixture
async def stream() -> AsyncIterator[tuple[str, str]]:
    """A unique stream name and subject prefix on the real server; deleted afterwards."""
    tag = uuid.uuid4().hex[:10]
    name, prefix = f"DYLIVE_O_{tag}", f"dylive_o_{tag}.room"
    try:
        nc = await nats.connect(
            f"nats://{NATS_HOST}:{NATS_PORT}", connect_timeout=3, allow_reconnect=False
        )
    except Exception as exc:
        pytest.skip(f"NATS unreachable at {NATS_HOST}:{NATS_PORT}: {exc}")
    try:
        yield name, prefix
    finally:
        with contextlib.suppress(nats.js.errors.NotFoundError):
            await nc.jetstream().delete_stream(name)
        await nc.close()


async def stream_count(name: str) -> int:
    nc = await nats.connect(f"nats://{NATS_HOST}:{NATS_PORT}", allow_reconnect=False)
    try:
        return int((await nc.jetstream().stream_info(name)).state.messages)
    except nats.js.errors.NotFoundError:
        return 0
    finally:
        await nc.close()


def stored(db: str) -> int:
    with contextlib.closing(sqlite3.connect(db)) as conn:
        return int(conn.execute("SELECT count(*) FROM events").fetchone()[0])


async def health(base: str) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=base, timeout=10) as client:
        data: dict[str, Any] = orjson.loads((await client.get("/healthz")).content)["data"]
        return data


def nats_reasons(data: dict[str, Any]) -> list[str]:
    return [r for r in data["reasons"] if r.startswith("nats sink ")]


async def stops_on(proc: asyncio.subprocess.Process, sig: signal.Signals) -> None:
    proc.send_signal(sig)
    await until(lambda: proc.returncode is not None, 30, f"the service stopping on {sig.name}")


async def test_starts_without_nats_and_publishes_what_waited(
    tmp_path: Path, stream: tuple[str, str]
) -> None:
    name, prefix = stream
    db, errors = str(tmp_path / "d.sqlite3"), tmp_path / "serve.log"
    async with (
        TcpProxy(NATS_HOST, NATS_PORT) as proxy,
        SimServer(SimConfig(seed=5, rate=40.0, tick=0.05)) as sim,
    ):
        await proxy.down()  # nothing listens on the sink's port yet
        sink = f"nats://127.0.0.1:{proxy.port}?stream={name}&prefix={prefix}"
        args = ("--room", DEFAULT_WEB_RID, "--sink", sink)
        async with serve_process(db, sim.base_url, *args, log=errors, log_level="info") as (
            proc,
            base,
        ):
            # the port opened; the reason is shown; messages are stored and wait
            async def waiting() -> bool:
                reasons = nats_reasons(await health(base))
                return bool(reasons) and stored(db) >= 20

            await until(waiting, 30, "messages stored while NATS is away")
            await until(lambda: _reason_has(base, "for 5 s"), 20, "several attempts made")
            (reason,) = nats_reasons(await health(base))
            assert f"127.0.0.1:{proxy.port} connecting" in reason, reason
            assert "Connection refused" in reason and "wait in the outbox" in reason, reason
            assert await stream_count(name) == 0
            refusals = [ln for ln in errors.read_text().splitlines() if "refused" in ln]
            assert len(refusals) == 1, refusals  # one line per reason, not one per attempt

            await proxy.up()  # NATS comes: everything stored so far is published
            sim.set_rate(DEFAULT_WEB_RID, 0)  # quiet, so that what is stored can be counted

            async def caught_up() -> bool:
                if nats_reasons(await health(base)):
                    return False
                return await stream_count(name) == stored(db) > 0

            await until(caught_up, 40, "the stream holding every stored message")

            await proxy.down()  # lost later: reconnecting, shown, and back
            await until(lambda: _reason_has(base, "reconnecting"), 20, "the lost connection shown")
            await proxy.up()
            await until(lambda: _reason_has(base, None), 30, "the connection back")
            await stops_on(proc, signal.SIGTERM)
    log = errors.read_text()
    assert "Traceback" not in log, log


async def _reason_has(base: str, word: str | None) -> bool:
    reasons = nats_reasons(await health(base))
    if word is None:
        return not reasons
    return any(word in r for r in reasons)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
async def test_stops_on_a_signal_while_nats_is_away(tmp_path: Path, sig: signal.Signals) -> None:
    errors = tmp_path / "serve.log"
    async with TcpProxy(NATS_HOST, NATS_PORT) as proxy:
        await proxy.down()
        sink = f"nats://127.0.0.1:{proxy.port}"
        proc, base = await start_serve(
            str(tmp_path / "d.sqlite3"), "http://127.0.0.1:9", "--sink", sink, log=errors
        )
        try:
            await until(lambda: _reason_has(base, "connecting"), 20, "the reason shown")
            await stops_on(proc, sig)
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
    assert "Traceback" not in errors.read_text()


async def test_without_nats_py_the_sink_is_one_line(tmp_path: Path) -> None:
    """nats-py hidden from the import system: one line naming the extra, exit 1."""
    code = (
        "import sys; sys.modules['nats'] = None\n"
        "from dylive.cli import main\n"
        "sys.exit(main(sys.argv[1:]))\n"
    )
    db = str(tmp_path / "d.sqlite3")
    proc = await asyncio.create_subprocess_exec(
        *(sys.executable, "-c", code, "serve", "--db", db, "--port", "0"),
        *("--sink", "nats://127.0.0.1:4222"),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 1
    lines = [line for line in err.decode().splitlines() if "sqlite: applying" not in line]
    assert len(lines) == 1, lines
    assert lines[0].startswith("dylive serve: the NATS sink (--sink) needs nats-py")
    assert "pip install 'dylive[nats]'" in lines[0]
    assert b"listening" not in out


async def test_the_fleet_view_names_the_reason(tmp_path: Path) -> None:
    """``/api/fleet`` shows ``this.sink`` = the publisher's stats: not connected, and why."""
    from dylive.deliver.nats import NatsPublisher
    from dylive.store import SQLiteStore

    async with (
        TcpProxy(NATS_HOST, NATS_PORT) as proxy,
        SQLiteStore(str(tmp_path / "d.sqlite3")) as store,
    ):
        await proxy.down()
        publisher = NatsPublisher(store, f"nats://u:secret@127.0.0.1:{proxy.port}")
        await publisher.start()  # returns at once
        try:
            await until(lambda: publisher.stats()["error"], 20, "the reason recorded")
            stats = publisher.stats()
            assert (stats["connected"], stats["state"]) == (False, "connecting")
            assert any(w in stats["error"] for w in ("refused", "Connect call failed")), stats
            assert "secret" not in stats["server"]
            assert publisher.problems() and "secret" not in publisher.problems()[0]
        finally:
            await asyncio.wait_for(publisher.stop(), 10)
        assert publisher.stats()["state"] == "closed" and not publisher.problems()

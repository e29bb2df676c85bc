"""Live end and follow, identity plumbing (cookie/UA/proxy on the wire), Supervisor, dylive watch."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import orjson
import pytest
from support.process import run_dylive
from support.simkit import FAST, Run, collecting, compare, fast_backoff, wait_for
from support.tee_proxy import TeeProxy

from dylive.errors import RoomNotFound, RoomNotLive
from dylive.sim import DEFAULT_WEB_RID, SimConfig, SimServer
from dylive.source.collector import Room
from dylive.source.room import resolve_room
from dylive.source.supervisor import Supervisor

CFG = SimConfig(seed=7, rate=40.0, heartbeat_timeout=3.0)


async def test_live_end_and_follow_across_restart() -> None:
    async with SimServer(CFG) as sim:
        first_id = sim.room_id(DEFAULT_WEB_RID)
        room = Room(
            f"https://live.douyin.com/{DEFAULT_WEB_RID}",
            upstream=sim.base_url,
            follow=True,
            options=FAST,
            backoff=fast_backoff(),
        )
        run = Run()
        async with room, collecting(room, run):
            assert await wait_for(lambda: len(run.events) >= 5, 30.0), room.status()
            sim.end(DEFAULT_WEB_RID)
            assert await wait_for(lambda: room.status().state == "waiting", 5.0), room.status()
            sim.start(DEFAULT_WEB_RID)
            second_id = sim.room_id(DEFAULT_WEB_RID)
            assert await wait_for(lambda: room.status().room_id == second_id, 5.0)
            seconds = lambda: sum(e.room_id == second_id for e in run.events)  # noqa: E731
            assert await wait_for(lambda: seconds() >= 5, 30.0), room.status()
            sim.end(DEFAULT_WEB_RID)
            ends = lambda: sum(e.method == "WebcastControlMessage" for e in run.events) == 2  # noqa: E731
            assert await wait_for(ends, 5.0), room.status()
            assert not run.done  # follow keeps waiting for the next broadcast
        assert second_id != first_id
        assert {e.room_id for e in run.events} == {first_id, second_id}
        missing, dups = compare(sim.log(DEFAULT_WEB_RID), run)
        assert missing == [] and dups == []


async def test_resolution_errors_and_info() -> None:
    async with SimServer(CFG) as sim:
        info = await resolve_room(DEFAULT_WEB_RID, upstream=sim.base_url)
        assert info.room_id == sim.room_id(DEFAULT_WEB_RID) and info.live
        assert info.anchor_nickname == "TeenieWeenie女装官方旗舰店" and info.title
        assert info.user_unique_id.isdigit() and "ttwid=" in info.cookie
        with pytest.raises(RoomNotFound):
            await resolve_room("999999999", upstream=sim.base_url)
        not_live = next(r["web_rid"] for r in sim.rooms() if r["status"] != 2)
        with pytest.raises(RoomNotLive):
            await resolve_room(not_live, upstream=sim.base_url)
        # without follow the Room refuses a room that is not live, with a clear error
        with pytest.raises(RoomNotLive):
            async with Room(not_live, upstream=sim.base_url, options=FAST):
                pass


async def test_cookie_user_agent_and_proxy_reach_the_wire(tmp_path: Path) -> None:
    cookie_file = tmp_path / "cookies.txt"
    cookie_file.write_text(
        "# Netscape HTTP Cookie File\n.douyin.com\tTRUE\t/\tTRUE\t1999999999\tsessionid\tsess-42\n"
    )
    proxy = TeeProxy()
    await proxy.start()
    async with SimServer(CFG) as sim:
        room = Room(
            DEFAULT_WEB_RID,
            upstream=sim.base_url,
            cookie=str(cookie_file),
            proxy=proxy.url,
            user_agent="Mozilla/5.0 dylive-test/1.0",
            options=FAST,
            backoff=fast_backoff(),
        )
        run = Run()
        async with room, collecting(room, run):
            assert await wait_for(lambda: len(run.events) > 5 and proxy.connects > 0, 5.0)
            assert room.status().transport == "push"
    assert proxy.server is not None
    proxy.server.close()
    wire = bytes(proxy.sent)
    assert b"GET http://127.0.0.1:" in wire  # HTTP requests went through the proxy
    assert b"GET /webcast/im/push/v2/?" in wire  # the WebSocket upgrade went through CONNECT
    for req in wire.split(b"GET ")[1:]:
        head = req.split(b"\r\n\r\n", 1)[0].lower()
        assert b"user-agent: mozilla/5.0 dylive-test/1.0" in head
        if b"/webcast/" in head.split(b"\r\n", 1)[0]:
            assert b"sessionid=sess-42" in head and b"ttwid=" in head


async def test_supervisor_runs_many_rooms() -> None:
    async with SimServer(CFG) as sim:
        live = [r["web_rid"] for r in sim.rooms() if r["status"] == 2]
        seen: dict[str, set[int]] = {w: set() for w in live}
        async with Supervisor(upstream=sim.base_url, options=FAST) as sup:
            for w in live:
                sup.add(w, backoff=fast_backoff())
            sup.add("999999999")  # a bad room fails alone
            with pytest.raises(ValueError):
                sup.add(live[0])

            async def drain() -> None:
                async for key, event in sup:
                    seen[key].add(event.msg_id)

            task = asyncio.create_task(drain())
            full = lambda: all(len(s) > 5 for s in seen.values())  # noqa: E731
            assert await wait_for(full, 5.0)
            assert await wait_for(lambda: "999999999" in sup.errors, 5.0)
            st = sup.status()
            assert all(st[w].state in ("live", "connecting", "reconnecting") for w in live), st
            assert all(st[w].messages > 5 and st[w].web_rid == w for w in live), st
            await sup.remove(live[0])
            assert live[0] not in sup.status() and sup.running() == len(live) - 1
            task.cancel()
        for w in live:
            ids = {int(e["msg_id"]) for e in sim.log(w)}
            assert seen[w] <= ids


async def test_watch_cli_errors_and_jsonl() -> None:
    async with SimServer(CFG) as sim:
        code, _out, err = await run_dylive("watch", "999999999", "--upstream", sim.base_url)
        assert code == 2 and "room not found" in err and "Traceback" not in err
        code, _out, err = await run_dylive("watch", "1", "--upstream", "http://127.0.0.1:9")
        assert code == 4 and "Traceback" not in err
        assert err.strip().splitlines()[-1].startswith("dylive watch: upstream error")

        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            *("-m", "dylive", "watch", DEFAULT_WEB_RID, "--upstream", sim.base_url),
            *("--format", "jsonl"),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        assert proc.stdout is not None
        out = b""
        # end the room only once the subprocess is connected and printing (however busy the
        # machine is): a condition, not a fixed sleep
        while out.count(b"\n") <= 10:
            line = await asyncio.wait_for(proc.stdout.readline(), 60)
            assert line, "dylive watch ended early"
            out += line
        sim.end(DEFAULT_WEB_RID)
        rest, err = await asyncio.wait_for(proc.communicate(), 60)
        out += rest
    assert proc.returncode == 0, err
    lines = [orjson.loads(x) for x in out.splitlines()]
    assert len(lines) > 10 and lines[-1]["method"] == "WebcastControlMessage"
    assert all({"method", "msg_id", "payload"} <= set(x) for x in lines)
    assert len({x["msg_id"] for x in lines}) == len(lines)

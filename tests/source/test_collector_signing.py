"""The collector against the simulator in strict a_bogus mode (``SimConfig(abogus="full")``).

Every web/enter and im/fetch request is recorded on the wire (an httpx request/response hook on
the client the Room uses) and checked with the server-side verifier: a_bogus last,
percent-encoded, signed over the exact query with the User-Agent the header carries.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field, replace
from urllib.parse import unquote

import httpx
import pytest
from support.simkit import FAST, Run, collecting, compare, fast_backoff, wait_for

from dylive.errors import RoomNotLive, SignatureRefused
from dylive.sim import DEFAULT_ROOM_ID, DEFAULT_WEB_RID, SimConfig, SimServer
from dylive.source.collector import Room
from dylive.source.room import resolve_room
from dylive.wire.signing import V1Decoded, V2Decoded, decode_a_bogus, verify_signed_query

ENTER = "/webcast/room/web/enter/"
FETCH = "/webcast/im/fetch/"
RATE = 40.0
ANCHOR = "TeenieWeenie女装官方旗舰店"


@dataclass
class Exchange:
    path: str
    query: str  # raw, exactly as sent
    user_agent: str
    empty: bool = False

    @property
    def a_bogus(self) -> str:
        return unquote(self.query.rsplit("&a_bogus=", 1)[1]) if "&a_bogus=" in self.query else ""


@dataclass
class Wire:
    """Every HTTP exchange of one client, in order."""

    log: list[Exchange] = field(default_factory=list)

    def client(self) -> httpx.AsyncClient:
        async def on_request(request: httpx.Request) -> None:
            ua = request.headers.get("user-agent", "")
            self.log.append(Exchange(request.url.path, request.url.query.decode(), ua))

        async def on_response(response: httpx.Response) -> None:
            await response.aread()
            path = response.request.url.path
            mine = next(x for x in reversed(self.log) if x.path == path)
            mine.empty = response.status_code == 200 and not response.content.strip()

        hooks = {"request": [on_request], "response": [on_response]}
        return httpx.AsyncClient(timeout=5.0, trust_env=False, event_hooks=hooks)  # type: ignore[arg-type]

    def of(self, path: str) -> list[Exchange]:
        return [x for x in self.log if x.path == path]


def assert_signed(x: Exchange, user_agent: str, generation: str = "v2") -> None:
    """a_bogus present, last, valid in full strictness, of the configured generation."""
    assert x.query.rsplit("&", 1)[-1].startswith("a_bogus="), x.query[-80:]
    assert x.user_agent == user_agent
    assert verify_signed_query(x.query, x.user_agent, strictness="full") is None
    kind = V2Decoded if generation == "v2" else V1Decoded
    assert isinstance(decode_a_bogus(x.a_bogus), kind)


def strict(seed: int) -> SimConfig:
    return SimConfig(seed=seed, rate=RATE, heartbeat_timeout=3.0, abogus="full")


@pytest.mark.parametrize("generation", ["v2", "v1"])
async def test_polling_in_strict_mode_is_signed_and_exact(generation: str) -> None:
    """Push disabled: im/fetch alone, each request validly signed, delivers the whole log."""
    wire = Wire()
    opts = replace(FAST, transport="poll", signing=generation)
    async with SimServer(strict(11)) as sim, wire.client() as http:
        room = Room(DEFAULT_WEB_RID, upstream=sim.base_url, options=opts, client=http)
        run = Run()
        async with room, collecting(room, run):
            assert room.info is not None and room.info.anchor_nickname == ANCHOR
            # a condition, not a fixed time: enough collected however busy the machine is
            assert await wait_for(lambda: len(run.events) >= RATE + 5, 60.0), room.status()
            sim.end(DEFAULT_WEB_RID)
            assert await wait_for(lambda: run.done, 10.0), room.status()
        log = sim.log(DEFAULT_WEB_RID)
    missing, dups = compare(log, run)
    assert missing == [] and dups == [] and not run.gaps
    assert run.events[-1].msg_id == int(log[-1]["msg_id"])  # through the live end
    assert len(run.events) >= RATE
    st = room.status()
    assert st.refusals == 0 and st.transport == "poll" and st.reconnects == 0
    ua = room.identity.user_agent
    fetches = wire.of(FETCH)
    assert len(fetches) >= 5 and not any(x.empty for x in fetches)
    for x in wire.of(ENTER) + fetches:
        assert_signed(x, ua, generation)
    assert len({x.a_bogus for x in fetches}) == len(fetches)  # a fresh signature each request


async def test_resolution_by_room_id_in_strict_mode() -> None:
    """A bare 19-digit room_id resolves through signed web/enter (status, anchor, title)."""
    refusals: list[str] = []
    async with SimServer(strict(12)) as sim:
        info = await resolve_room(
            str(DEFAULT_ROOM_ID), upstream=sim.base_url, signing="v2", on_refusal=refusals.append
        )
        assert (info.room_id, info.status, info.anchor_nickname) == (DEFAULT_ROOM_ID, 2, ANCHOR)
        assert info.title and info.anchor_sec_uid.startswith("MS4wLjABAAAA")
        assert refusals == []
        # the room restarts: the old room_id is an ended broadcast, the new one is live
        sim.end(DEFAULT_WEB_RID)
        sim.start(DEFAULT_WEB_RID)
        new_id = sim.room_id(DEFAULT_WEB_RID)
        with pytest.raises(RoomNotLive):
            async with Room(str(DEFAULT_ROOM_ID), upstream=sim.base_url, options=FAST):
                pass
        wire = Wire()
        async with wire.client() as http:
            room = Room(str(new_id), upstream=sim.base_url, options=FAST, client=http)
            async with room:
                assert room.info is not None and room.info.room_id == new_id
                assert room.info.anchor_nickname == ANCHOR and room.info.live
                assert room.status().refusals == 0
        enters = wire.of(ENTER)
        assert len(enters) == 1 and not enters[0].empty
        assert f"room_id_str={new_id}" in enters[0].query
        assert_signed(enters[0], room.identity.user_agent)
        assert wire.of("/" + DEFAULT_WEB_RID) == []  # no page scrape was needed


async def test_unsigned_web_enter_refused_then_page_scrape() -> None:
    """signing="off" against strict mode: web/enter answers an empty 200 twice (counted), the
    room info then comes from the page scrape."""
    wire = Wire()
    opts = replace(FAST, signing="off")
    async with SimServer(strict(13)) as sim, wire.client() as http:
        room = Room(DEFAULT_WEB_RID, upstream=sim.base_url, options=opts, client=http)
        async with room:
            info = room.info
            assert info is not None
            assert (info.room_id, info.anchor_nickname) == (sim.room_id(DEFAULT_WEB_RID), ANCHOR)
            assert info.user_unique_id.isdigit() and info.live
            assert room.status().refusals == 2
        enters = wire.of(ENTER)
        assert [x.empty for x in enters] == [True, True]
        assert all("a_bogus=" not in x.query for x in enters)
        pages = wire.of("/" + DEFAULT_WEB_RID)
        assert pages and wire.log.index(pages[0]) > wire.log.index(enters[-1])
        # a bare room_id cannot be scraped: refused twice, then an upstream error (it is never
        # assumed to exist: a room that does not resolve starts nothing)
        refusals: list[str] = []
        with pytest.raises(SignatureRefused):
            await resolve_room(
                str(DEFAULT_ROOM_ID),
                upstream=sim.base_url,
                signing="off",
                on_refusal=refusals.append,
            )
        assert refusals == ["web/enter", "web/enter"]


async def test_im_fetch_refusal_retried_then_push_takes_over() -> None:
    """Polling (push refused), then im/fetch starts answering empty 200s while push comes back:
    the refusal is retried once with a fresh signature, counted, and push delivers; nothing is
    lost or duplicated."""
    wire = Wire()
    async with SimServer(strict(14)) as sim, wire.client() as http:
        sim.set_faults(DEFAULT_WEB_RID, refuse_handshake=True)
        room = Room(
            DEFAULT_WEB_RID,
            upstream=sim.base_url,
            options=replace(FAST, push_retry_after=30.0),
            backoff=fast_backoff(),
            client=http,
        )
        run = Run()
        async with room, collecting(room, run):
            polling = lambda: room.status().transport == "poll" and room.status().state == "live"  # noqa: E731
            assert await wait_for(polling, 5.0), room.status()
            await asyncio.sleep(0.5)
            before = room.status()
            assert before.refusals >= 1 and before.fallbacks >= 1  # the refused handshake(s)
            sim.set_faults(DEFAULT_WEB_RID, refuse_handshake=False, http_empty=1.0)
            on_push = lambda: room.status().transport == "push" and room.status().state == "live"  # noqa: E731
            assert await wait_for(on_push, 5.0), room.status()
            during = len(run.events)
            await asyncio.sleep(0.6)
            assert len(run.events) > during  # push delivers while im/fetch refuses
            sim.set_faults(DEFAULT_WEB_RID, reset=True)
            await asyncio.sleep(0.3)
            sim.end(DEFAULT_WEB_RID)
            assert await wait_for(lambda: run.done, 10.0), room.status()
        log = sim.log(DEFAULT_WEB_RID)
    fetches = wire.of(FETCH)
    refused = [x for x in fetches if x.empty]
    assert len(refused) == 2  # one retry, then the fallback to push
    assert fetches.index(refused[1]) == fetches.index(refused[0]) + 1
    for x in refused:
        assert_signed(x, room.identity.user_agent)
    assert refused[0].a_bogus != refused[1].a_bogus  # the retry carries a fresh signature
    st = room.status()
    assert st.refusals == before.refusals + 2
    missing, dups = compare(log, run)
    assert missing == [] and dups == [] and not run.gaps
    assert run.events[-1].msg_id == int(log[-1]["msg_id"])


async def test_polling_refusals_counted_and_recovered() -> None:
    """Polling only: im/fetch refuses for a while (empty 200s); each one is counted, polling
    backs off and resumes from its position once the refusal stops, with no loss."""
    wire = Wire()
    opts = replace(FAST, transport="poll")
    async with SimServer(strict(15)) as sim, wire.client() as http:
        room = Room(
            DEFAULT_WEB_RID,
            upstream=sim.base_url,
            options=opts,
            backoff=fast_backoff(),
            client=http,
        )
        run = Run()
        async with room, collecting(room, run):
            assert await wait_for(lambda: len(run.events) >= 20, 5.0), room.status()
            sim.set_faults(DEFAULT_WEB_RID, http_empty=1.0)
            assert await wait_for(lambda: room.status().refusals >= 4, 5.0), room.status()
            assert room.status().state in ("reconnecting", "connecting")  # not live
            sim.set_faults(DEFAULT_WEB_RID, reset=True)
            assert await wait_for(lambda: room.status().state == "live", 5.0), room.status()
            await asyncio.sleep(0.3)
            sim.end(DEFAULT_WEB_RID)
            assert await wait_for(lambda: run.done, 10.0), room.status()
        log = sim.log(DEFAULT_WEB_RID)
    st = room.status()
    empties = [x for x in wire.log if x.empty]
    assert {x.path for x in empties} == {FETCH}
    assert st.refusals == len(empties) >= 4
    assert st.reconnects >= 2
    missing, dups = compare(log, run)
    assert missing == [] and dups == [] and not run.gaps
    assert run.events[-1].msg_id == int(log[-1]["msg_id"])

"""How a request starts on the httptools edge (``dylive.serve.edgestart``): a ``GET`` of a direct
path takes its first step inside ``data_received`` (answered there when it does not wait, no
task), a request that waits goes on in a task (woken, cancelled, as uvicorn's would), pipelined
requests keep their order, other requests start in uvicorn's task; a plain request target is
split as httptools' URL parser reads it."""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar

import httptools
import pytest
import uvicorn
from hypothesis import given
from hypothesis import strategies as st

from dylive.serve.edgestart import split_target
from dylive.serve.limits import server_config


class Transport(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.out = bytearray()
        self.closing = False

    def write(self, data: Any) -> None:
        self.out += data

    def writelines(self, chunks: Any) -> None:
        self.write(b"".join(chunks))

    def is_closing(self) -> bool:
        return self.closing

    def close(self) -> None:
        self.closing = True

    def pause_reading(self) -> None: ...

    def resume_reading(self) -> None: ...

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return ("127.0.0.1", 40000) if name in ("sockname", "peername") else default


class App:
    """Answers its path; ``/wait`` waits for :attr:`gate`. Records the task each request ran in."""

    direct: ClassVar[dict[str, None]] = {"/fast": None, "/wait": None}

    def __init__(self) -> None:
        self.tasks: list[asyncio.Task[Any] | None] = []
        self.gate: asyncio.Future[bytes] | None = None
        self.cancelled = False

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        self.tasks.append(asyncio.current_task())
        body = scope["path"].encode() + b"?" + scope["query_string"]
        if scope["path"] == "/wait":
            self.gate = asyncio.get_running_loop().create_future()
            try:
                body = await self.gate
            except asyncio.CancelledError:
                self.cancelled = True
                raise
        headers = [(b"content-length", b"%d" % len(body))]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def connect(app: App) -> tuple[Any, Transport]:
    config = server_config(app, "127.0.0.1", 0, http="httptools", lifespan="off")
    config.load()
    state = uvicorn.server.ServerState()
    protocol = config.http_protocol_class(config=config, server_state=state, app_state={})
    transport = Transport()
    protocol.connection_made(transport)
    return protocol, transport


def get(path: str, method: str = "GET") -> bytes:
    return f"{method} {path} HTTP/1.1\r\nHost: t\r\n\r\n".encode()


async def test_a_direct_get_is_answered_inside_data_received_without_a_task() -> None:
    app = App()
    protocol, transport = connect(app)
    protocol.data_received(get("/fast?token=a&cursor=1_2_3_1"))
    assert transport.out.endswith(b"\r\n\r\n/fast?token=a&cursor=1_2_3_1")
    assert app.tasks == [asyncio.current_task()] and not protocol.tasks  # in the caller's step
    protocol.connection_lost(None)


async def test_other_requests_start_in_a_task() -> None:
    app = App()
    protocol, transport = connect(app)
    protocol.data_received(get("/other?x=1"))
    protocol.data_received(get("/fast", "HEAD"))  # pipelined behind it
    assert not transport.out and len(protocol.tasks) == 1
    await asyncio.wait_for(asyncio.gather(*protocol.tasks), 5)  # the first; it starts the next
    await asyncio.wait_for(asyncio.gather(*protocol.tasks), 5)
    assert len(app.tasks) == 2
    assert asyncio.current_task() not in app.tasks
    assert transport.out.startswith(b"HTTP/1.1 200 OK") and b"/other?x=1" in transport.out
    protocol.connection_lost(None)


async def test_a_waiting_request_goes_on_in_a_task() -> None:
    app = App()
    protocol, transport = connect(app)
    protocol.data_received(get("/wait"))
    assert not transport.out and app.tasks == [asyncio.current_task()]
    (task,) = protocol.tasks
    assert app.gate is not None
    app.gate.set_result(b"woken")
    await task
    assert transport.out.endswith(b"\r\n\r\nwoken") and not protocol.tasks
    protocol.data_received(get("/fast?again"))  # the connection goes on
    assert transport.out.endswith(b"/fast?again")
    protocol.connection_lost(None)


async def test_a_waiting_request_cancelled_sees_the_cancellation() -> None:
    """As in uvicorn's own task: the app sees CancelledError, ``run_asgi`` answers 500."""
    app = App()
    protocol, transport = connect(app)
    protocol.data_received(get("/wait"))
    (task,) = protocol.tasks
    gate = app.gate
    task.cancel()  # before the task's first step
    await task
    assert app.cancelled and gate is not None and gate.cancelled()
    assert transport.out.startswith(b"HTTP/1.1 500 ")
    protocol.connection_lost(None)
    app = App()
    protocol, transport = connect(app)
    protocol.data_received(get("/wait"))
    (task,) = protocol.tasks
    await asyncio.sleep(0)  # the task waits on the gate now
    task.cancel()
    await task
    assert app.cancelled and transport.out.startswith(b"HTTP/1.1 500 ")
    protocol.connection_lost(None)
    protocol.connection_lost(None)


async def test_pipelined_direct_gets_are_answered_in_order() -> None:
    app = App()
    protocol, transport = connect(app)
    protocol.data_received(get("/fast?1") + get("/fast?2") + get("/fast?3"))
    while protocol.tasks:  # the first answered at once; the others in tasks, one by one
        await asyncio.wait_for(asyncio.gather(*protocol.tasks), 5)
    assert transport.out.count(b"HTTP/1.1 200 OK") == 3
    out = bytes(transport.out)
    assert out.index(b"/fast?1") < out.index(b"/fast?2") < out.index(b"/fast?3")
    protocol.connection_lost(None)


PLAIN = "ABCXYZabcxyz0189-._~!$&'()*+,;=:@/?%"


@given(st.text(PLAIN, max_size=40))
def test_a_plain_target_splits_as_httptools_parses_it(rest: str) -> None:
    url = ("/" + rest).encode()
    parsed = httptools.parse_url(url)
    assert split_target(url, httptools.parse_url) == (parsed.path, parsed.query or b"")


@pytest.mark.parametrize(
    "url",
    [b"http://host:8/p/a?b=c", b"/p?q#frag", b"/p#f", b"*", b'/a?b="c"', b"/a|b?c{d}"],
)
def test_other_targets_go_through_httptools(url: bytes) -> None:
    seen: list[bytes] = []

    def parse_url(target: bytes) -> Any:
        seen.append(target)
        return httptools.parse_url(target)

    parsed = httptools.parse_url(url)
    assert split_target(url, parse_url) == (parsed.path, parsed.query or b"")
    assert seen == [url]

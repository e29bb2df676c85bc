"""The service's collector path replayed from recorded push frames: µs of CPU per message.

    .venv/bin/python bench/collector_replay.py --frames /tmp/frames.pickle --copies 10

What ``dylive serve`` does with a push frame between the socket and ``EventLog.append``, without
the socket and without the store: per room the identity pool's source (``PooledRoom``, a
``dylive.Room`` with ``CollectorOptions(direct=True)``) read by the room's ingestion
(``collect.ingest.Ingest``) into a store that counts what it is handed. The frames are the
simulator's own: the first run records ``--rooms`` rooms for ``--seconds`` seconds from a
``dylive sim`` subprocess into ``--frames`` (later runs, and other trees, replay that file).
Each recorded room is replayed ``--copies`` times as rooms of their own; the socket is a stub
whose ``recv()`` hands out the next recorded frame after one pass of the event loop (a socket
with a frame waiting), and whose acks go to a transport that drops them (masked and framed as
usual). ``--wire``: websockets' own connection instead of the stub (the class the tree's
``push_stream`` asks ``open_socket`` for), opened without a handshake on a transport that drops
what is written: one task hands each socket its next frame, as a server's WebSocket frame, to
``data_received`` once per pass of the loop (while the socket reads), so websockets' parser,
its receive queue and ``recv()`` are in the figure too. Rounds alternate nothing: compare trees with ``PYTHONPATH=<tree>/src``, A B A B.

No network and no clock in the measured part: the figure (CPU of this process per stored
message) repeats within a few per cent on a quiet machine, and ``valgrind --tool=callgrind``
counts its instructions. ``--calls``: cProfile on in the measured part of each round, and the
Python-level calls a frame it counted (the CPU figure is then cProfile's, not the path's).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import pickle
import pstats
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from collector import NullLog, create_rooms, free_port, start_sim

from dylive.source.collector import CollectorOptions


async def record(path: Path, rooms: int, seconds: float, rate: float) -> None:
    """Frames of ``rooms`` simulated rooms over ``seconds``, as their push sockets got them."""
    from dylive.source.supervisor import Supervisor
    from dylive.wire import session as wire_session

    frames: dict[int, list[bytes]] = {}
    original = wire_session.PushSession.receive_frame

    def receive_frame(self: Any, data: bytes) -> Any:
        frames.setdefault(id(self), []).append(bytes(data))
        return original(self, data)

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    sim = await start_sim(port, rate)
    try:
        rids = await create_rooms(base, rooms, rate)
        wire_session.PushSession.receive_frame = receive_frame  # type: ignore[method-assign]
        async with Supervisor(upstream=base, options=CollectorOptions()) as sup:
            for rid in rids:
                sup.add(rid)

            async def drain() -> None:
                async for _ in sup:
                    pass

            task = asyncio.create_task(drain())
            await asyncio.sleep(seconds)
            task.cancel()
    finally:
        wire_session.PushSession.receive_frame = original  # type: ignore[method-assign]
        sim.terminate()
        sim.wait(10)
    recorded = [f for f in frames.values() if len(f) > 2]
    path.write_bytes(pickle.dumps(recorded))  # noqa: ASYNC240
    print(f"recorded {sum(map(len, recorded))} frames of {len(recorded)} sockets into {path}")


class _Protocol:
    """What ``push._write_now`` reads of an open client connection."""

    def __init__(self) -> None:
        from websockets.protocol import Side, State

        self.state = State.OPEN
        self.side = Side.CLIENT
        self.extensions: list[Any] = []
        self.expect_continuation_frame = False

    def data_to_send(self) -> list[bytes]:
        return []


class _Transport:
    def __init__(self) -> None:
        self.written = 0

    def write(self, data: bytes) -> None:
        self.written += len(data)

    def is_closing(self) -> bool:
        return False

    def abort(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


class WireTransport:
    """The transport of a ``--wire`` connection: writes dropped, reading paused and resumed by
    the connection's flow control, closing tells the connection at the next pass of the loop."""

    def __init__(self) -> None:
        self.written = 0
        self.reading = True
        self.closing = False
        self.conn: Any = None

    def write(self, data: bytes) -> None:
        self.written += len(data)

    def is_closing(self) -> bool:
        return self.closing

    def is_reading(self) -> bool:
        return self.reading

    def pause_reading(self) -> None:
        self.reading = False

    def resume_reading(self) -> None:
        self.reading = True

    def set_write_buffer_limits(self, high: Any = None, low: Any = None) -> None:
        pass

    def get_write_buffer_size(self) -> int:
        return 0

    def can_write_eof(self) -> bool:
        return False

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return default

    def abort(self) -> None:
        self.close()

    def close(self) -> None:
        if not self.closing:
            self.closing = True
            asyncio.get_running_loop().call_soon(self.conn.connection_lost, None)


def wire_connection(url: str, frames: list[bytes], factory: Any, max_queue: Any) -> Any:
    """An open client connection of class ``factory`` on a :class:`WireTransport`, and the
    server's WebSocket frames of ``frames`` to feed it."""
    from websockets.client import ClientProtocol
    from websockets.datastructures import Headers
    from websockets.frames import Frame, Opcode
    from websockets.http11 import Response
    from websockets.protocol import Protocol, State
    from websockets.uri import parse_uri

    from dylive.wire.frames import MAX_PAYLOAD

    protocol = ClientProtocol(parse_uri(url), max_size=MAX_PAYLOAD)
    protocol.state = State.OPEN
    protocol.parser = Protocol.parse(protocol)  # frames from the first byte: no HTTP response
    next(protocol.parser)
    conn = factory(protocol, ping_interval=None, max_queue=max_queue)
    conn.response = Response(101, "Switching Protocols", Headers())  # the handshake is done
    transport = WireTransport()
    transport.conn = conn
    conn.connection_made(transport)
    wire = [Frame(Opcode.BINARY, data).serialize(mask=False) for data in frames]
    return conn, transport, wire


async def feed_wire(sockets: list[tuple[Any, WireTransport, list[bytes], asyncio.Event]]) -> None:
    """Each pass of the loop: the next frame of every socket that reads, to ``data_received``."""
    active = [(conn, tr, iter(wire), done) for conn, tr, wire, done in sockets]
    while active:
        await asyncio.sleep(0)
        left = []
        for item in active:
            conn, tr, frames, done = item
            if tr.reading:
                data = next(frames, None)
                if data is None:
                    done.set()
                    continue
                conn.data_received(data)
            left.append(item)
        active = left


def buffered(socket: tuple[Any, WireTransport, list[bytes], asyncio.Event]) -> int:
    """Frames a ``--wire`` connection holds that the consumer did not take (in websockets'
    receive queue, or in the tree's own: a ``frames`` deque)."""
    conn = socket[0]
    own = getattr(conn, "frames", None)
    return len(own if own is not None else conn.recv_messages.frames)


class ReplaySocket:
    """A connected push socket that receives ``frames`` (one per pass of the loop), then
    nothing (until closed)."""

    def __init__(self, frames: list[bytes], go: asyncio.Event, done: asyncio.Event) -> None:
        self.frames = iter(frames)
        self.go = go
        self.done = done
        self.protocol = _Protocol()
        self.transport = _Transport()
        self.paused = False
        self.send_in_progress = None

    async def recv(self) -> bytes:
        if not self.go.is_set():
            await self.go.wait()
        await asyncio.sleep(0)
        for data in self.frames:
            return data
        self.done.set()
        await asyncio.Event().wait()
        raise AssertionError

    async def send(self, data: bytes) -> None:
        pass

    async def close(self) -> None:
        pass


async def replay(
    recorded: list[list[bytes]], copies: int, rounds: int, wire: bool, calls: bool = False
) -> None:
    from dylive.collect.ingest import Ingest, RoomState
    from dylive.identity.pool import IdentityPool
    from dylive.identity.source import pool_source
    from dylive.source import collector, push
    from dylive.source.credentials import Identity
    from dylive.source.room import RoomInfo
    from dylive.source.transport import Checkpoint

    sockets: dict[str, list[bytes]] = {}
    waiting: list[asyncio.Event] = []
    go = asyncio.Event()  # every room is open: the frames come

    async def first_resolve(self: Any) -> RoomInfo:
        return RoomInfo(web_rid=str(self.ident), room_id=int(self.ident), status=2)

    wired: list[tuple[Any, WireTransport, list[bytes], asyncio.Event]] = []

    async def open_socket(url: str, info: RoomInfo, *_: Any, **kw: Any) -> Any:
        done = asyncio.Event()
        waiting.append(done)
        if not wire:
            if kw.get("create_connection"):
                raise SystemExit("this tree's push_stream reads in the read callback: use --wire")
            return ReplaySocket(sockets.pop(info.web_rid), go, done)
        from websockets.asyncio.client import ClientConnection

        factory = kw.get("create_connection") or ClientConnection
        conn, tr, frames = wire_connection(
            url, sockets.pop(info.web_rid), factory, push.PushOptions().max_queue
        )
        wired.append((conn, tr, frames, done))
        return conn

    collector.Room._first_resolve = first_resolve  # type: ignore[method-assign]
    push.open_socket = open_socket  # type: ignore[assignment]
    factory = pool_source(
        IdentityPool(None, fallback=Identity()),
        upstream="http://replay.invalid",
        options=CollectorOptions(fake_alive_timeout=3600.0, direct=True),
    )
    # a position without a log sequence number (no gap to look for) and a known push server
    resume = Checkpoint("replay", "replay", "ws://replay.invalid/webcast/im/push/v2/", "push")
    figures = []
    for r in range(rounds):
        states, store = [], NullLog()
        for i, frames in enumerate(recorded * copies):
            room_id = 1 + r * 1_000_000 + i
            sockets[str(room_id)] = frames
            info = RoomInfo(web_rid=str(room_id), room_id=room_id, status=2)
            states.append(RoomState(info, resume=resume))
        waiting.clear()
        wired.clear()
        go.clear()
        tasks = [asyncio.create_task(Ingest(st, store, factory).run()) for st in states]  # type: ignore[arg-type]
        while len(waiting) < len(states):  # noqa: ASYNC110 - rooms opening (clients, tasks): not measured
            await asyncio.sleep(0.005)
        await asyncio.sleep(0.2)
        profile = cProfile.Profile() if calls else None
        if profile is not None:
            profile.enable()
        cpu0, w0 = time.process_time(), time.monotonic()
        go.set()
        feeder = asyncio.create_task(feed_wire(list(wired))) if wire else None
        await asyncio.gather(*(e.wait() for e in waiting))  # every frame was received
        while any(map(buffered, wired)):  # noqa: ASYNC110 - and taken from the connection
            await asyncio.sleep(0.01)
        while sum(st.pending for st in states):  # noqa: ASYNC110 - what was read is stored
            await asyncio.sleep(0.05)
        cpu, wall = time.process_time() - cpu0, time.monotonic() - w0
        if profile is not None:
            profile.disable()
            print_calls(pstats.Stats(profile), sum(map(len, recorded)) * copies)
        for t in tasks:
            t.cancel()
        if feeder is not None:
            await feeder
        await asyncio.gather(*tasks, return_exceptions=True)
        n, nframes = store.appended, sum(map(len, recorded)) * copies
        figures.append(1e6 * cpu / n)
        print(
            f"round {r + 1}: {len(states)} rooms, {n} messages stored in {wall:.2f} s,"
            f" µs CPU per message {1e6 * cpu / n:.2f}, per frame {1e6 * cpu / nframes:.2f}"
        )
    figures.sort()
    print(
        f"median µs CPU per message: {figures[len(figures) // 2]:.2f}  (load {os.getloadavg()[0]:.2f})"
    )


def print_calls(stats: pstats.Stats, frames: int) -> None:
    """``--calls``: Python-level calls (functions and builtins) a frame in the measured part of
    the round (cProfile's counts: its timings are not the figure), and the most called."""
    counted = stats.stats.items()  # type: ignore[attr-defined]
    rows = sorted(
        (
            (n / frames, f"{Path(file).name}:{line}({name})")
            for (file, line, name), (_, n, *_) in counted
        ),
        reverse=True,
    )
    total = sum(n for n, _ in rows)
    print(f"  calls a frame: {total:.1f}; the most called (a frame):")
    for n, name in rows[:25]:
        print(f"    {n:7.2f}  {name}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--frames", default="/tmp/dylive-collector-frames.pickle")
    p.add_argument("--rooms", type=int, default=20, help="recorded rooms (first run)")
    p.add_argument("--seconds", type=float, default=30.0, help="recorded seconds (first run)")
    p.add_argument("--rate", type=float, default=10.0, help="messages/s per room (first run)")
    p.add_argument("--copies", type=int, default=10, help="rooms replayed per recorded room")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--uvloop", action="store_true")
    p.add_argument("--wire", action="store_true", help="websockets' connection (see above)")
    p.add_argument(
        "--calls", action="store_true", help="cProfile's call counts a frame (measured part)"
    )
    args = p.parse_args()
    os.environ.setdefault("DYLIVE_LOG_LEVEL", "warning")
    path = Path(args.frames)
    run: Any = asyncio.run
    if args.uvloop:
        import uvloop

        run = uvloop.run
    if not path.exists():
        run(record(path, args.rooms, args.seconds, args.rate))
    recorded = pickle.loads(path.read_bytes())
    run(replay(recorded, args.copies, args.rounds, args.wire, args.calls))


if __name__ == "__main__":
    main()

"""The long-poll chat request in one process: event-loop thread CPU per request, without sockets.

``bench/longpoll.py`` measures the service's CPU per request over real sockets, the difference of
two phases' process CPU, which other work on a busy machine makes noisy. This one runs the app of
:func:`dylive.serve.app.create_app` behind the httptools edge protocol of
:func:`~dylive.serve.limits.server_config`, fed request bytes through an in-memory transport, on
uvloop: ``--rooms`` rooms named by web_rid (as ``bench/longpoll.py``), each request preceded by a
commit of 2 or 3 messages to its room (``store.append``, as ingestion's commits: the tail cache,
the wake-up), then the long-poll request with the room's cursor (``count=200&wait=2``), which
finds them at once. The thread CPU (``time.thread_time``) of the request alone, from its bytes to
its response written, is summed per round of ``--requests`` requests; printed: the median per
request, and the rounds.

``--waiting``: each request is sent first and its room's commit made after it is waiting, so
the request goes through the store's ``wait_for`` (the thread CPU is then the request's and
the commit's loop-thread part together).

``--ab-token``: rounds alternate between the SQLite token cache on its change mark (``<db>-tokens``)
and on the ``token_generation`` counter read once per loop batch (the way before the mark),
in this one process: the two medians and their ratio.

Usage: ``python bench/longpoll_inproc.py [--rooms 200] [--requests 2000] [--rounds 9]
[--ab-token] [--waiting]``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson
from api import ROOM, record
from longpoll import FIRST_WEB_RID, bench_app

#: --waiting: loop steps for a request to reach its wait before the commit (at most; it goes on
#: as soon as the request waits: under valgrind the reader threads' hops take more steps)
WAIT_STEPS = 64


class Transport(asyncio.Transport):
    """What the protocol writes, kept; ``done`` set when a whole response is in."""

    def __init__(self) -> None:
        super().__init__()
        self.out = bytearray()
        self.done = asyncio.Event()
        self.closing = False

    def write(self, data: Any) -> None:
        self.out += data
        head, sep, body = bytes(self.out).partition(b"\r\n\r\n")
        if sep:
            length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
            if len(body) >= length:
                self.done.set()

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


def _waiting(store: Any, room_id: int) -> bool:
    """Whether a request waits on ``room_id``: in the store's waiter registry, or (before it)
    on the room's Event."""
    waiters = getattr(store, "waiters", None)
    if waiters is not None:
        return bool(waiters._rooms.get(room_id))
    signal = store._signals.get(room_id)
    return bool(signal and signal._waiters)


async def run(args: argparse.Namespace) -> None:
    import uvicorn

    from dylive.serve import tokens
    from dylive.serve.limits import server_config
    from dylive.store import open_store

    tmp = tempfile.mkdtemp(prefix="dylive-lpin-")
    db = str(Path(tmp) / "lp.sqlite3")
    async with open_store(db) as store:
        token = await tokens.create(store, "longpoll", room_limit=0)

    app = bench_app(db)
    uconfig = server_config(app, "127.0.0.1", 0, http="httptools", lifespan="off")
    uconfig.load()
    state = uvicorn.server.ServerState()
    async with app.router.lifespan_context(app):
        store = app.state.svc.store
        protocol = uconfig.http_protocol_class(config=uconfig, server_state=state, app_state={})
        transport = Transport()
        protocol.connection_made(transport)
        cursors = [""] * args.rooms
        msg_id = 6922636275858098944

        waited = 0

        async def get(i: int, cursor: str, commit: Any = None) -> tuple[float, dict[str, Any]]:
            nonlocal waited
            path = f"/douyin/liveroom/chat?token={token}&room_id={FIRST_WEB_RID + i}&methods=all"
            path += f"&count=200&wait=2&cursor={cursor}" if cursor else "&count=1"
            transport.out.clear()
            transport.done.clear()
            started = time.thread_time()
            protocol.data_received(f"GET {path} HTTP/1.1\r\nHost: bench\r\n\r\n".encode())
            if commit is not None:  # --waiting: the request waits for the room's commit
                for _ in range(WAIT_STEPS):
                    await asyncio.sleep(0)
                    if _waiting(store, ROOM + i):
                        waited += 1
                        break
                await commit
            await transport.done.wait()
            used = time.thread_time() - started
            body = bytes(transport.out).partition(b"\r\n\r\n")[2]
            return used, orjson.loads(body)

        for i in range(args.rooms):  # collection starts; the first cursor
            while not cursors[i]:
                data = (await get(i, ""))[1]["data"]
                cursors[i] = data.get("cursor", "") if isinstance(data, dict) else ""
                if not cursors[i]:
                    await asyncio.sleep(0.05)
        rounds: list[float] = []
        counter: list[float] = []  # --ab-token: the rounds on the counter
        messages = 0
        for r in range(args.rounds + 1):  # the first round warms up
            on_counter = args.ab_token and r % 2 == 1
            if args.ab_token:  # the cache starts over on the chosen check
                store._mark_failed, store._mark = on_counter, None
                store._tokens.clear()
            total = 0.0
            for n in range(args.requests):
                i = n % args.rooms
                batch = [record(ROOM + i, msg_id + k) for k in range(2 + n % 2)]
                msg_id += len(batch)
                if args.waiting:
                    used, answer = await get(i, cursors[i], store.append(batch))
                else:
                    await store.append(batch)
                    used, answer = await get(i, cursors[i])
                data = answer["data"]
                assert answer["code"] == 200 and data["messages"], answer
                cursors[i] = data["cursor"]
                total += used
                messages += len(data["messages"]) if r else 0
            if r:
                (counter if on_counter else rounds).append(1e6 * total / args.requests)
        protocol.connection_lost(None)
    shutil.rmtree(tmp, ignore_errors=True)
    load = os.getloadavg()
    print(
        f"longpoll in process: {args.rooms} rooms, {args.rounds} rounds of {args.requests}"
        f" requests, {messages / (args.rounds * args.requests):.2f} messages per request"
        + (f", {waited} of {(args.rounds + 1) * args.requests} waited" if args.waiting else "")
        + f", {args.requests * (args.rounds + 1)} requests in all"
        f"{' (token cache on its change mark)' if counter else ''}"
        f" (load {load[0]:.2f}): loop thread CPU {statistics.median(rounds):.1f} us per request"
        f" (median; rounds {' '.join(f'{x:.0f}' for x in rounds)})"
    )
    if counter:
        mark, old = statistics.median(rounds), statistics.median(counter)
        print(
            f"    token cache on the counter per loop batch: {old:.1f} us per request (rounds"
            f" {' '.join(f'{x:.0f}' for x in counter)}); mark / counter {mark / old:.3f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description="long-poll chat request in process: CPU")
    parser.add_argument("--rooms", type=int, default=200)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--ab-token", action="store_true", help="alternate the token check")
    parser.add_argument(
        "--waiting",
        action="store_true",
        help="each request first, then its room's commit: the request waits for it (its CPU"
        " then includes the commit's loop-thread part)",
    )
    args = parser.parse_args()
    from dylive.serve import runtime

    runtime.run(run(args))


if __name__ == "__main__":
    main()

"""Push transport micro-benchmark: µs of CPU per frame in ``push_stream`` for N sockets.

    .venv/bin/python bench/push_frames.py --sockets 200 --rate 10 --seconds 15

A WebSocket server in a subprocess sends every socket ``--rate`` frames a second (a gzip msg
frame of ``--messages`` messages with need_ack and im-* headers, as the simulator builds them); here one
task per socket iterates :func:`dylive.source.push.push_stream` (acks included). Prints frames/s
received and this process's CPU per frame; ``--stall S`` then stops every consumer for S seconds
and prints the RSS each socket grew by (what its paused receive queue holds; ``--max-queue
HIGH,LOW`` sets that queue's water marks). Compare trees with ``PYTHONPATH=<tree>/src``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import socket
import subprocess
import sys
import time

SERVER = r"""
import asyncio, sys
from websockets.asyncio.server import serve
from dylive.wire.frames import RawMessage, encode_frame, encode_response

import os
rate, count = float(sys.argv[2]), int(sys.argv[3])
msgs = [RawMessage("WebcastChatMessage", 7_000_000 + i, os.urandom(60) + b"x" * 120) for i in range(count)]
frame = encode_frame(
    encode_response(msgs, cursor="t-1_r-1_d-1_u-1_h-1", internal_ext="internal_src:dim|x" * 8,
                    now=1_700_000_000_000, need_ack=True),
    log_id=12345, headers={"im-cursor": "t-1_r-1", "im-internal_ext": "ext" * 40, "im-now": "1700000000000"},
)

async def handler(ws):
    async def drain():
        async for _ in ws:
            pass
    t = asyncio.create_task(drain())
    try:
        while True:
            await asyncio.sleep(1 / rate)
            await ws.send(frame)
    except Exception:
        pass
    finally:
        t.cancel()

async def main():
    async with serve(handler, "127.0.0.1", int(sys.argv[1]), compression=None, max_queue=None):
        await asyncio.Future()

asyncio.run(main())
"""


def rss_kb() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def bench(port: int, args: argparse.Namespace) -> None:
    from dylive.source.credentials import Identity
    from dylive.source.push import PushOptions, push_stream
    from dylive.source.room import RoomInfo
    from dylive.source.transport import Position

    info = RoomInfo(web_rid="1", room_id=7, status=2, user_unique_id="7")
    ident = Identity()
    opts = PushOptions(ping_interval=None)
    if args.max_queue:
        high, low = (int(x) for x in args.max_queue.split(","))
        opts = PushOptions(ping_interval=None, max_queue=(high, low))
    frames = 0
    stalled = False

    async def one() -> None:
        nonlocal frames, stalled
        url = f"ws://127.0.0.1:{port}/webcast/im/push/v2/"
        async for _ in push_stream(url, info, ident, Position(), opts):
            frames += 1
            if stalled:
                await asyncio.Event().wait()  # a consumer that stopped taking (overload)

    for _ in range(50):
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port)):
            break
        await asyncio.sleep(0.1)
    tasks = [asyncio.create_task(one()) for _ in range(args.sockets)]
    await asyncio.sleep(2.0)  # connect and settle
    f0, c0, w0, t0 = frames, time.process_time(), time.monotonic(), os.times()
    await asyncio.sleep(args.seconds)
    f1, c1, w1, t1 = frames, time.process_time(), time.monotonic(), os.times()
    if args.stall:
        stalled = True
        r0 = rss_kb()
        await asyncio.sleep(args.stall)
        r1 = rss_kb()
        print(
            f"consumers stalled {args.stall:.0f} s: RSS {r0 / 1024:.1f} → {r1 / 1024:.1f} MB,"
            f" {(r1 - r0) / args.sockets:.1f} KB a socket"
        )
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    n = f1 - f0
    print(
        f"sockets {args.sockets}  frames/s {n / (w1 - w0):.0f}  CPU {100 * (c1 - c0) / (w1 - w0):.1f} %"
        f"  µs per frame {1e6 * (c1 - c0) / max(n, 1):.1f}"
        f" (user {1e6 * (t1.user - t0.user) / max(n, 1):.1f}, system {1e6 * (t1.system - t0.system) / max(n, 1):.1f})"
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--sockets", type=int, default=200)
    p.add_argument("--rate", type=float, default=10.0)
    p.add_argument("--seconds", type=float, default=15.0)
    p.add_argument("--messages", type=int, default=3, help="per frame (catch-up frames: 50)")
    p.add_argument("--uvloop", action="store_true")
    p.add_argument("--stall", type=float, default=0.0, help="then stop consuming for this long")
    p.add_argument(
        "--max-queue", default="", help="HIGH,LOW: websockets' receive queue (default PUSH_QUEUE)"
    )
    args = p.parse_args()
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-c", SERVER, str(port), str(args.rate), str(args.messages)]
    )
    try:
        if args.uvloop:
            import uvloop

            uvloop.run(bench(port, args))
        else:
            asyncio.run(bench(port, args))
    finally:
        server.terminate()
        server.wait(10)
    os.environ.setdefault("DYLIVE_LOG_LEVEL", "warning")


if __name__ == "__main__":
    main()

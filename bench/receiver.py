# ruff: noqa: ASYNC230  (a benchmark helper: one file opened at start)
"""A webhook receiver in its own process, for bench/delivery.py (w): its CPU is not the bench's.

It runs the tests' real receiver (``tests/support/receiver.py``: raw asyncio HTTP/1.1, checks
every ``X-Dylive-Signature``, answers at once unless ``--latency``, fails a seeded ``--fail``
fraction with 503) and writes, every 0.2 s, one JSON line per acknowledged request to ``--out``:
``[time acknowledged (unix s), webhook_id, [msg_id, …]]``; on SIGTERM a last line
``{"requests", "failed", "bad_signatures"}``. It prints its port on stdout once listening.

Usage: ``python bench/receiver.py --secret S --out FILE [--fail 0.2] [--latency 0]``.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from support.receiver import Receiver  # noqa: E402


async def main(args: argparse.Namespace) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    with open(args.out, "wb") as out:
        async with Receiver(secret=args.secret, fail=args.fail, latency=args.latency, seed=3) as rx:
            print(rx.port, flush=True)

            def flush() -> None:
                acks = rx.on_ack[:]
                del rx.on_ack[: len(acks)]
                for t, payload in acks:
                    ids = [m["msg_id"] for m in payload["messages"]]
                    out.write(orjson.dumps([t, payload["webhook_id"], ids]) + b"\n")
                out.flush()
                rx.bodies.clear()  # kept by the tests' receiver; not needed here
                rx.headers.clear()
                rx.got.clear()

            while not stop.is_set():
                flush()
                try:
                    async with asyncio.timeout(0.2):
                        await stop.wait()
                except TimeoutError:
                    pass
            flush()
            stats = {"requests": rx.requests, "failed": rx.failed, "bad": rx.bad_signatures}
            out.write(orjson.dumps(stats) + b"\n")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="a webhook receiver process for the benchmark")
    parser.add_argument("--secret", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--fail", type=float, default=0.0)
    parser.add_argument("--latency", type=float, default=0.0)
    asyncio.run(main(parser.parse_args()))

"""permessage-deflate per client vs once per message (serve/wsdeflate.py); prints figures.

A feed frame (``messages`` with 3 rendered chat messages, as the chat endpoint renders them) is
sent to ``--clients`` clients, ``--frames`` times: websockets' own extension with context takeover
(what uvicorn negotiated before: one compression per client, each with its history) against the
shared one (server_no_context_takeover, compressed once, reused for the other clients). Each
client's frame starts as its own bytes object (uvicorn encodes the text per connection). Prints
µs of CPU per client-frame for each, alternating rounds, their ratio, and the bytes on the wire.

Usage: ``python bench/wsdeflate.py [--clients 1000 --frames 20 --rounds 3]``.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from pathlib import Path

import orjson
from websockets.extensions.permessage_deflate import PerMessageDeflate
from websockets.frames import Frame, Opcode

sys.path.insert(0, str(Path(__file__).resolve().parent))
from api import record

from dylive.serve.wsdeflate import SHARED, SharedDeflate

SETTINGS = {"memLevel": 5}  # uvicorn's


WORDS = [
    "主播",
    "好看",
    "多少钱",
    "链接",
    "上车",
    "来了",
    "送给主播",
    "小心心",
    "宝宝们",
    "点赞",
    "关注",
    "下单",
    "有货吗",
    "尺码",
    "颜色",
]


def frames(count: int) -> list[str]:
    """Frames of 3 chat messages with varied contents, users and ids (the simulator's kind)."""
    rnd = random.Random(5)
    out = []
    for f in range(count):
        messages = []
        for _i in range(3):
            message = orjson.loads(
                record(7, 7_300_000_000_000_000_000 + rnd.randrange(10**15)).rendered
            )
            payload = message["payload"]
            payload["content"] = "".join(rnd.choices(WORDS, k=rnd.randrange(2, 9)))
            user = payload["user"]
            user["uid"] = rnd.randrange(10**10, 10**11)
            user["nickname"] = "".join(rnd.choices(WORDS, k=2)) + str(rnd.randrange(1000))
            user["unique_id"] = str(rnd.randrange(10**8, 10**9))
            user["sec_uid"] = "MS4wLjABAAAA" + os.urandom(24).hex()[:43]
            user["pay_grade_level"] = rnd.randrange(60)
            messages.append(message)
        frame = {"type": "messages", "room_id": 7, "cursor": f"c{f}", "messages": messages}
        out.append(orjson.dumps(frame).decode())
    return out


def run(kind: str, clients: int, texts: list[str]) -> tuple[float, int]:
    if kind == "per client":
        exts = [PerMessageDeflate(False, False, 12, 12, SETTINGS) for _ in range(clients)]
    else:
        exts = [SharedDeflate(False, True, 12, 12, SETTINGS) for _ in range(clients)]
    wire = 0
    start = time.process_time()
    for text in texts:
        for ext in exts:
            wire += len(ext.encode(Frame(Opcode.TEXT, text.encode())).data)
    used = time.process_time() - start
    return used / (clients * len(texts)) * 1e6, wire // clients


def main(args: argparse.Namespace) -> None:
    texts = frames(args.frames)
    size = statistics.mean(len(t.encode()) for t in texts)
    load = os.getloadavg()[0]
    print(f"{args.clients} clients x {args.frames} frames of {size:,.0f} bytes, load {load:.2f}")
    got: dict[str, list[float]] = {"per client": [], "once": []}
    for _ in range(args.rounds):
        for kind in got:
            SHARED._lru.clear()
            us, wire = run(kind, args.clients, texts)
            got[kind].append(us)
            print(f"  {kind}: {us:.1f} µs of CPU per client-frame, {wire:,} bytes per client")
    a, b = (statistics.median(got[k]) for k in got)
    print(f"median: per client {a:.1f} µs, once {b:.1f} µs per client-frame; ratio {b / a:.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--frames", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    main(parser.parse_args())

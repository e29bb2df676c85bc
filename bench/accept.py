"""The collector's per-message step in process: ``Room._accept`` on push deliveries.

    .venv/bin/python bench/accept.py [--deliveries 4000 --per 3 --rounds 4]

What a ``dylive.Room`` does with each delivery once the socket has handed it over: dedupe,
render to the stored JSON (``CollectorOptions(direct=True)``, the service's setting; gifts and
the rest through the typed path and the gift ledger), coverage and the silence watch, the
position. The messages are ``bench/decode.py``'s realistic mix. Prints µs of CPU per message for
each round (a fresh Room each) and the best; compare trees with ``PYTHONPATH=<tree>/src``.
"""

from __future__ import annotations

import argparse
import random
import time

from decode import ROOM, make_message

from dylive.source.collector import CollectorOptions, Room
from dylive.source.room import RoomInfo
from dylive.source.transport import Delivery, Position


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--deliveries", type=int, default=4000)
    p.add_argument("--per", type=int, default=3, help="messages a delivery (push: ~2.5)")
    p.add_argument("--rounds", type=int, default=4)
    args = p.parse_args()
    rng = random.Random(1)
    msg_id = 7041032912153662503
    deliveries = []
    for i in range(args.deliveries):
        msgs = []
        for _ in range(args.per):
            msg_id += rng.randrange(1, 10**6)
            msgs.append(make_message(rng, msg_id))
        deliveries.append(Delivery(tuple(msgs), Position(f"c-{i}", "e" * 200), "push", now=1))
    best = float("inf")
    for _ in range(args.rounds):
        room = Room("1", options=CollectorOptions(direct=True))
        room.info = RoomInfo(web_rid="1", room_id=ROOM, status=2, user_unique_id="7")
        n, t = 0, time.process_time()
        for d in deliveries:
            n += len(room._accept(d))
        us = 1e6 * (time.process_time() - t) / n
        best = min(best, us)
        print(f"{n} messages: {us:.2f} µs each")
    print(f"best: {best:.2f} µs a message")


if __name__ == "__main__":
    main()

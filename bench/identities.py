"""Identities under Douyin's defences: many rooms, a few logged-in identities, risk control on.

The simulator runs with ``--gifts-need-login`` and a risk limit of ``--risk-rooms`` rooms per
identity (window 60 s); ``--rooms`` rooms are collected through an identity pool of
``--identities`` logged-in cookies (at most ``--max-rooms`` rooms each, paced per identity and per
exit). After ``--seconds`` every room is ended and the collectors finish. Printed:

- gifts captured vs the log's gifts (per room, the log from the first message the collector got;
  target 100 %),
- identities cooled down, rooms degraded at the end (target 0),
- upstream requests per minute per identity (HTTP requests and room starts through the pacer).

    python bench/identities.py [--rooms 100] [--identities 10] [--risk-rooms 12] [--seconds 60]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import resource
import time
from dataclasses import replace
from typing import Any

from dylive.decode import GiftEvent
from dylive.identity.pacing import Pacer
from dylive.identity.pool import IdentityPool, PoolOptions
from dylive.identity.source import GuardOptions, PooledRoom
from dylive.sim import SimConfig, SimServer
from dylive.sim.defences import Defences
from dylive.source.collector import CollectorOptions
from dylive.source.credentials import Identity
from dylive.source.room import resolve_room
from dylive.store import IdentityRecord

GIFT = "WebcastGiftMessage"


def parse() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rooms", type=int, default=100)
    p.add_argument("--identities", type=int, default=10)
    p.add_argument("--risk-rooms", type=int, default=12)
    p.add_argument("--max-rooms", type=int, default=10, help="rooms per identity in the pool")
    p.add_argument("--rate", type=float, default=2.0, help="messages/s per room")
    p.add_argument("--seconds", type=float, default=60.0)
    p.add_argument("--id-rate", type=float, default=1.0, help="requests/s per identity")
    p.add_argument("--exit-rate", type=float, default=20.0, help="requests/s per exit")
    return p.parse_args()


async def collect(room: PooledRoom, out: list[Any]) -> None:
    with contextlib.suppress(Exception):
        async for event in room:
            out.append(event)


async def main() -> None:
    args = parse()
    cfg = SimConfig(seed=14, rate=args.rate, tick=0.25, ping_interval=None, rooms=[])
    cfg.defences = Defences(
        gifts_need_login=True, risk_rooms=args.risk_rooms, risk_window=60.0, risk_cooldown=60.0
    )
    async with SimServer(cfg) as sim:
        web_rids = [str(700_000_000_000 + i) for i in range(args.rooms)]
        for rid in web_rids:
            sim.create_room(rid, rate=args.rate)
        pacer = Pacer(rate=args.id_rate, burst=3, exit_rate=args.exit_rate, exit_burst=10)
        pool = IdentityPool(
            None, fallback=Identity(), options=PoolOptions(max_rooms=args.max_rooms), pacer=pacer
        )
        for i in range(args.identities):
            pool.add(IdentityRecord(f"id{i:02d}", sim.login(f"id{i:02d}")))
        options = replace(CollectorOptions(), signing="v2")
        guard = GuardOptions(check_every=1.0, wait_for_identity=2.0)
        infos = await asyncio.gather(  # setup, not measured: the room ids
            *(resolve_room(rid, upstream=sim.base_url, signing="off") for rid in web_rids)
        )
        t0 = time.monotonic()
        rooms, runs, tasks = [], [], []
        for info in infos:
            room = PooledRoom(pool, info, upstream=sim.base_url, options=options, guard=guard)
            events: list[Any] = []
            rooms.append(room)
            runs.append(events)
            tasks.append(asyncio.create_task(collect(room, events)))
        await asyncio.sleep(args.seconds)
        degraded_end = sum(bool(r.degraded()) for r in rooms)
        no_lease = sum(r.lease is None for r in rooms)
        elapsed = time.monotonic() - t0
        for rid in web_rids:
            with contextlib.suppress(Exception):
                sim.end(rid)
        await asyncio.wait(tasks, timeout=60)
        for task in tasks:
            task.cancel()
        report(args, sim, web_rids, runs, pool, degraded_end, no_lease, elapsed)


def report(
    args: argparse.Namespace,
    sim: SimServer,
    web_rids: list[str],
    runs: list[list[Any]],
    pool: IdentityPool,
    degraded_end: int,
    no_lease: int,
    elapsed: float,
) -> None:
    log_gifts = captured = 0
    for rid, events in zip(web_rids, runs, strict=True):
        got = {e.msg_id for e in events}
        log = sim.log(rid)
        first = next((i for i, e in enumerate(log) if e["msg_id"] in got), len(log))
        gifts = [e["msg_id"] for e in log[first:] if e["method"] == GIFT]
        log_gifts += len(gifts)
        captured += sum(m in got for m in gifts)
    gift_events = sum(isinstance(e, GiftEvent) for events in runs for e in events)
    per_id = [n / elapsed * 60 for n in pool.pacer.requests.values()] or [0.0]
    stats = sim.stats()
    print(f"rooms {args.rooms}, identities {args.identities}, risk limit {args.risk_rooms} rooms"
          f"/identity, pool max {args.max_rooms} rooms/identity, {args.rate:g} msg/s per room,"
          f" {elapsed:.0f} s")  # fmt: skip
    pct = 100.0 * captured / log_gifts if log_gifts else 100.0
    print(f"gifts captured vs log: {captured} / {log_gifts} = {pct:.2f} % ({gift_events} events)")
    print(f"identities cooled down: {pool.cooldowns}; simulator flags: {len(stats['flags'])}")
    print(f"rooms degraded at the end: {degraded_end} (without an identity: {no_lease})")
    print(
        f"upstream requests per minute per identity: mean {sum(per_id) / len(per_id):.1f}, "
        f"max {max(per_id):.1f}"
    )
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"max RSS {rss:.0f} MB (simulator and collectors in one process)")


if __name__ == "__main__":
    asyncio.run(main())

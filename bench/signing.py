"""Throughput of the request signers on one core (signatures per second).

Usage: PYTHONPATH=src python bench/signing.py [--seconds 2] [--pure-sm3]

Each query differs from the previous one (a counter in the query), as in production, so the
query hashes are never cached. ``--pure-sm3`` forces the pure-Python SM3 even when OpenSSL
provides one.
"""

from __future__ import annotations

import argparse
import itertools
import time
from collections.abc import Callable

from dylive.wire.signing import (
    a_bogus_v1,
    a_bogus_v2,
    abogus_v1,
    abogus_v2,
    primitives,
    sign_push,
    sign_query,
    signature_stub,
    verify_signed_query,
    verify_webcast_signature,
)

UA = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/140.0.0.0 Safari/537.36 Edg/140.0.0.0"
)
BASE_QUERY = (
    "aid=6383&app_name=douyin_web&live_id=1&device_platform=web&language=zh-CN"
    "&enter_from=page_refresh&cookie_enabled=true&screen_width=1920&screen_height=1080"
    "&browser_language=zh-CN&browser_platform=Win32&browser_name=Edge&browser_version=140.0.0.0"
    "&web_rid=261378947940&room_id_str=7659772534023654196&enter_source="
    "&is_need_double_stream=false&insert_task_id=&live_reason=&msToken="
)
WINDOW = "1920|1080|1920|1040|0|30|0|0|1872|92|1920|1040|1857|92|1|24|Win32"
SCREEN = "1920|953|1920|1040|1920|1040|1920|1080|Win32"
PUSH_PARAMS = {
    "live_id": "1",
    "aid": "6383",
    "version_code": "180800",
    "webcast_sdk_version": "1.0.14-beta.0",
    "room_id": "7376429659866598196",
    "did_rule": "3",
    "user_unique_id": "7319483754668557238",
    "device_platform": "web",
    "identity": "audience",
}


def rate(fn: Callable[[int], object], seconds: float) -> float:
    """Calls per second of fn(i) over about ``seconds``."""
    counter = itertools.count()
    n = 0
    start = time.perf_counter()
    deadline = start + seconds
    while True:
        for _ in range(50):
            fn(next(counter))
        n += 50
        now = time.perf_counter()
        if now >= deadline:
            return n / (now - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="duration of each measurement")
    parser.add_argument("--pure-sm3", action="store_true", help="use the pure-Python SM3")
    args = parser.parse_args()

    if args.pure_sm3:
        primitives.sm3 = primitives.sm3_pure
        abogus_v1.sm3 = primitives.sm3_pure
        abogus_v2.sm3 = primitives.sm3_pure
    sm3_name = "pure Python" if primitives.sm3 is primitives.sm3_pure else "OpenSSL (hashlib)"
    t0 = 1764316800000
    stub = signature_stub(PUSH_PARAMS)

    def v1(i: int) -> str:
        return a_bogus_v1(
            f"{BASE_QUERY}&seq={i}", "", UA, window=WINDOW, t_a_ms=t0 + i, t_b_ms=t0 + i - 2,
            r=(i % 10000, 4128, 1806),
        )  # fmt: skip

    def v2(i: int) -> str:
        return a_bogus_v2(
            f"{BASE_QUERY}&seq={i}", "", UA, screen=SCREEN, t_sign_ms=t0 + i, t_start_ms=t0 + i,
            t_ink_ms=t0 + i - 1, t_period_ms=t0 + i, flag_e=14, noise_a=(i & 255, 7),
            noise_b=(3, 178), prefix=(5, 9), spread_noise=125,
        )  # fmt: skip

    def v1_cold(i: int) -> str:
        # the varying part first: no whole-block prefix shared with earlier queries
        return a_bogus_v1(
            f"seq={i}&{BASE_QUERY}", "", UA, window=WINDOW, t_a_ms=t0 + i, t_b_ms=t0 + i - 2,
            r=(i % 10000, 4128, 1806),
        )  # fmt: skip

    signed_v1 = [sign_query(f"{BASE_QUERY}&seq={i}", UA, generation="v1") for i in range(64)]
    signed_v2 = [sign_query(f"{BASE_QUERY}&seq={i}", UA, generation="v2") for i in range(64)]
    push_sigs = [sign_push(PUSH_PARAMS) for _ in range(64)]

    def verify(signed: list[str]) -> Callable[[int], object]:
        def run(i: int) -> object:
            reason = verify_signed_query(signed[i & 63], UA, strictness="full")
            assert reason is None, reason
            return reason

        return run

    rows = [
        ("a_bogus v1 sign (pure fn)", v1),
        ("a_bogus v2 sign (pure fn)", v2),
        ("a_bogus v1 sign, no shared prefix", v1_cold),
        ("sign_query v1 (time+secrets)", lambda i: sign_query(f"{BASE_QUERY}&seq={i}", UA, generation="v1")),
        ("sign_query v2 (time+secrets)", lambda i: sign_query(f"{BASE_QUERY}&seq={i}", UA)),
        ("push signature (sign_push)", lambda i: sign_push(PUSH_PARAMS)),
        ("verify v1 (strictness full)", verify(signed_v1)),
        ("verify v2 (strictness full)", verify(signed_v2)),
        ("verify push signature", lambda i: verify_webcast_signature(stub, push_sigs[i & 63])),
    ]  # fmt: skip
    print(f"SM3: {sm3_name}; {args.seconds:g} s per row; one core")
    for name, fn in rows:
        print(f"{name:32s} {rate(fn, args.seconds):>12,.0f} /s")


if __name__ == "__main__":
    main()

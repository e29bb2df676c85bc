import time
from urllib.parse import unquote

import pytest

from dylive.wire.signing import decode_a_bogus, sign_query, verify_signed_query
from dylive.wire.signing.abogus_v1 import V1Decoded
from dylive.wire.signing.abogus_v2 import V2Decoded
from dylive.wire.signing.signer import platform_of, screen_string, window_string

UA = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/140.0.0.0 Safari/537.36"
)
QUERY = "aid=6383&app_name=douyin_web&live_id=1&web_rid=261378947940&msToken="


def value_of(signed: str) -> str:
    assert signed.startswith(QUERY + "&a_bogus=")
    encoded = signed[len(QUERY + "&a_bogus=") :]
    assert "/" not in encoded and "=" not in encoded and "&" not in encoded
    return unquote(encoded)


def test_sign_query_v2_genuine_shape():
    before = time.time_ns() // 1_000_000
    signed = sign_query(QUERY, UA)
    after = time.time_ns() // 1_000_000
    assert verify_signed_query(signed, UA, strictness="full") is None
    d = decode_a_bogus(value_of(signed))
    assert isinstance(d, V2Decoded)
    assert before <= d.t_sign_ms <= after
    assert d.t_ink_ms == d.t_sign_ms - 1 and d.sign_minus_start in (0, 1)
    assert (d.flag_e, d.page_id, d.aid, d.event, d.env_mask) == (14, 7571, 6383, (0, 0, 0, 0, 1), 1)
    assert d.screen == "1920|953|1920|1040|1920|1040|1920|1080|Win32"
    assert d.noise_b[0] < 240 and d.noise_b[1] & 178 == 178
    assert d.prefix[1] < 40
    assert 188 <= len(value_of(signed)) <= 200


def test_sign_query_v1_genuine_shape():
    signed = sign_query(QUERY, UA, generation="v1", body="{}", screen=(1280, 800))
    assert verify_signed_query(signed, UA, strictness="full", body="{}") is None
    assert verify_signed_query(signed, UA, strictness="full") == "a_bogus body hash mismatch"
    d = decode_a_bogus(value_of(signed))
    assert isinstance(d, V1Decoded)
    assert d.t_a_ms - d.t_b_ms in (2, 3)
    assert all(0 <= r < 10000 for r in d.r)
    assert d.seeds == ((3, 45), (1, 0), (1, 7))
    assert d.window == "1280|673|1280|760|0|0|0|0|1280|760|1280|800|1280|673|24|24|Win32"


def test_sign_query_is_randomised():
    values = {sign_query(QUERY, UA) for _ in range(20)}
    assert len(values) == 20


def test_sign_query_empty_query_and_bad_generation():
    signed = sign_query("", UA)
    assert signed.startswith("a_bogus=")
    assert verify_signed_query(signed, UA, strictness="full") is None
    with pytest.raises(ValueError):
        sign_query(QUERY, UA, generation="v3")


def test_platform_and_screen_strings():
    mac = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36"
    assert platform_of(UA) == "Win32"
    assert platform_of(mac) == "MacIntel"
    assert platform_of("Mozilla/5.0 (Linux; Android 10; K)") == "Linux armv8l"
    assert platform_of("Mozilla/5.0 (X11; Linux x86_64)") == "Linux x86_64"
    assert screen_string((2560, 1440), mac).split("|") == [
        "2560", "1313", "2560", "1400", "2560", "1400", "2560", "1440", "MacIntel",
    ]  # fmt: skip
    assert len(window_string((1920, 1080), UA).split("|")) == 17

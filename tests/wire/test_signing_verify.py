from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from dylive.wire.signing import (
    a_bogus_v1,
    a_bogus_v2,
    decode_a_bogus,
    verify_signed_query,
)
from dylive.wire.signing.abogus_v1 import V1Decoded
from dylive.wire.signing.abogus_v2 import V2Decoded
from dylive.wire.signing.primitives import S3, latin1, rc4m, rc4s, sm3, sm3sm3

UA = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/140.0.0.0 Safari/537.36 Edg/140.0.0.0"
)
QUERY = "aid=6383&app_name=douyin_web&room_id=123456789"
T0 = 1764316800000


def sign_v1(query=QUERY, body="", ua=UA, t=T0, **kw):
    return a_bogus_v1(
        query, body, ua, window="1536|742|1536|864|0|0|0|0|1536|864|1536|864|1536|742|24|24|Win32",
        t_a_ms=t, t_b_ms=t - 2, r=(1, 2, 3), **kw,
    )  # fmt: skip


def sign_v2(query=QUERY, body="", ua=UA, t=T0, **kw):
    return a_bogus_v2(
        query, body, ua, screen="1920|953|1920|1040|1920|1040|1920|1080|Win32", t_sign_ms=t,
        t_start_ms=t, t_ink_ms=t - 1, t_period_ms=t, flag_e=14, noise_a=(1, 2),
        noise_b=(3, 180), prefix=(4, 5), spread_noise=list(range(40)), **kw,
    )  # fmt: skip


def url(query, value):
    return f"{query}&a_bogus={quote(value, safe='')}"


@pytest.mark.parametrize("sign", [sign_v1, sign_v2])
def test_valid_value_each_strictness(sign):
    raw = url(QUERY, sign())
    for level in ("off", "format", "full"):
        assert verify_signed_query(raw, UA, strictness=level, now_ms=T0 + 1000) is None
    assert verify_signed_query("?" + raw, UA, strictness="full", now_ms=T0) is None


def test_missing_a_bogus():
    assert verify_signed_query(QUERY, UA, strictness="off") is None
    assert verify_signed_query(QUERY, UA, strictness="format") == "a_bogus missing"
    assert verify_signed_query(QUERY, UA, strictness="full") == "a_bogus missing"
    assert verify_signed_query(QUERY + "&a_bogus=", UA, strictness="format") == "a_bogus empty"


@pytest.mark.parametrize("garbage", ["111", "00000000", "%%%", "x" * 164, "DDDD" * 41])
def test_garbage_a_bogus(garbage):
    raw = f"{QUERY}&a_bogus={garbage}"
    assert verify_signed_query(raw, UA, strictness="off") is None
    for level in ("format", "full"):
        reason = verify_signed_query(raw, UA, strictness=level)
        assert reason is not None and reason.startswith("a_bogus malformed")


def test_a_bogus_not_last():
    raw = url(QUERY, sign_v2()) + "&extra=1"
    assert verify_signed_query(raw, UA, strictness="format") == "a_bogus is not the last parameter"


def test_a_bogus_only_parameter():
    value = sign_v2(query="")
    raw = f"a_bogus={quote(value, safe='')}"
    assert verify_signed_query(raw, UA, strictness="full", now_ms=T0) is None


def test_format_passes_but_full_refuses_tampering():
    raw = url(QUERY, sign_v2())
    tampered = raw.replace("room_id=123456789", "room_id=123456780")
    assert verify_signed_query(tampered, UA, strictness="format") is None
    assert verify_signed_query(tampered, UA, strictness="full", now_ms=T0) == (
        "a_bogus query hash mismatch"
    )
    assert verify_signed_query(raw, UA + " x", strictness="full", now_ms=T0) == (
        "a_bogus user-agent hash mismatch"
    )
    assert verify_signed_query(raw, UA, strictness="full", body="{}", now_ms=T0) == (
        "a_bogus body hash mismatch"
    )


@pytest.mark.parametrize("sign", [sign_v1, sign_v2])
def test_freshness(sign):
    raw = url(QUERY, sign())
    late = T0 + 16 * 60 * 1000
    assert verify_signed_query(raw, UA, strictness="full", now_ms=late) == (
        "a_bogus timestamp out of range"
    )
    assert verify_signed_query(raw, UA, strictness="full", now_ms=late, max_skew_ms=None) is None
    assert verify_signed_query(raw, UA, strictness="format", now_ms=late) is None


def test_aid_check():
    raw = url(QUERY, sign_v1(aid=1128))
    assert verify_signed_query(raw, UA, strictness="format") == "a_bogus aid mismatch"
    assert verify_signed_query(raw, UA, strictness="format", aid=1128) is None
    assert verify_signed_query(raw, UA, strictness="format", aid=None) is None


def test_bad_strictness():
    with pytest.raises(ValueError):
        verify_signed_query(QUERY, UA, strictness="strict")


def test_generation_detection():
    assert isinstance(decode_a_bogus(sign_v1()), V1Decoded)
    assert isinstance(decode_a_bogus(sign_v2()), V2Decoded)
    with pytest.raises(ValueError, match="generation"):
        decode_a_bogus("AAAAAAAAAAAAAAAA")


# --- property-based round trips -----------------------------------------------------------

query_text = st.text(
    alphabet=st.sampled_from("abcdefghijklmnopqrstuvwxyz0123456789=&%-.~+"), max_size=300
).filter(lambda q: "a_bogus" not in q)
ua_text = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=250)
body_text = st.text(max_size=200)
clock = st.integers(1_100_000_000_000, 2_200_000_000_000)  # 2004 .. 2039
u16 = st.integers(0, 65535)
byte = st.integers(0, 255)
fast = settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow])


def v1_query_bytes(q):
    h = sm3sm3(q + "cus")
    return h[21], h[22]


def v1_ua_bytes(ua, a1, a2):
    key = bytes(((a1 >> 8) & 255, a1 & 255, a2 & 255))
    outs = set()
    for pad in (True, False):
        h = sm3(S3.encode(rc4s(key, latin1(ua)), pad=pad).encode())
        outs.add((h[23], h[24]))
    return outs


def v2_query_bytes(q):
    h = sm3sm3(q + "dhzx")
    return h[9], h[18], h[3]


def v2_ua_bytes(ua, e):
    h = sm3(S3.encode(rc4m(bytes((0, 1, e & 255)), latin1(ua))).encode())
    return h[11], h[21], h[5]


@fast
@given(
    query=query_text,
    body=body_text,
    ua=ua_text,
    window=st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=255), max_size=120),
    t_a=clock,
    dt=st.integers(-10, 200),
    r=st.tuples(u16, u16, u16),
    a2=st.sampled_from([0, 8, 14]),
    page_id=st.sampled_from([0, 7571, 110624]),
    seeds=st.sampled_from([((3, 45), (1, 0), (1, 7)), ((3, 45), (3, 45), (3, 45))]),
)
def test_v1_round_trip(query, body, ua, window, t_a, dt, r, a2, page_id, seeds):
    value = a_bogus_v1(
        query, body, ua, window=window, t_a_ms=t_a, t_b_ms=t_a + dt, r=r, args=(0, 1, a2),
        page_id=page_id, seeds=seeds,
    )  # fmt: skip
    raw = (query + "&" if query else "") + "a_bogus=" + quote(value, safe="")
    assert verify_signed_query(raw, ua, strictness="full", body=body, now_ms=t_a) is None
    d = decode_a_bogus(value)
    assert isinstance(d, V1Decoded)
    assert (d.t_a_ms, d.t_b_ms, d.r, d.window, d.page_id) == (t_a, t_a + dt, r, window, page_id)

    bad_query = query + "&x=1"
    raw_bad = bad_query + "&a_bogus=" + quote(value, safe="")
    refused = verify_signed_query(raw_bad, ua, strictness="full", body=body, now_ms=t_a)
    assert (refused is not None) == (v1_query_bytes(bad_query) != v1_query_bytes(query))

    bad_ua = ua + "!"
    refused = verify_signed_query(raw, bad_ua, strictness="full", body=body, now_ms=t_a)
    same = bool(v1_ua_bytes(bad_ua, 1, a2) & v1_ua_bytes(ua, 1, a2))
    assert (refused is None) == same


@fast
@given(
    query=query_text,
    body=body_text,
    ua=ua_text,
    screen=st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=80),
    t_sign=clock,
    start_lag=st.integers(0, 250),
    flag_e=st.sampled_from([0, 8, 12, 14]),
    env_mask=u16,
    event=st.tuples(byte, byte, byte, byte, u16),
    noise_a=st.tuples(byte, byte),
    noise_b=st.tuples(byte, byte),
    prefix=st.tuples(byte, byte),
    spread=st.lists(byte, min_size=60, max_size=60),
)
def test_v2_round_trip(
    query, body, ua, screen, t_sign, start_lag, flag_e, env_mask, event, noise_a, noise_b,
    prefix, spread,
):  # fmt: skip
    value = a_bogus_v2(
        query, body, ua, screen=screen, t_sign_ms=t_sign, t_start_ms=t_sign - start_lag,
        t_ink_ms=t_sign - 1, t_period_ms=t_sign, flag_e=flag_e, env_mask=env_mask, event=event,
        noise_a=noise_a, noise_b=noise_b, prefix=prefix, spread_noise=spread,
    )  # fmt: skip
    raw = (query + "&" if query else "") + "a_bogus=" + quote(value, safe="")
    assert verify_signed_query(raw, ua, strictness="full", body=body, now_ms=t_sign) is None
    d = decode_a_bogus(value)
    assert isinstance(d, V2Decoded)
    assert (d.t_sign_ms, d.t_ink_ms, d.sign_minus_start) == (t_sign, t_sign - 1, start_lag)
    assert (d.screen, d.flag_e, d.env_mask, d.event) == (screen, flag_e, env_mask, event)
    assert (d.noise_a, d.noise_b, d.prefix) == (noise_a, noise_b, prefix)
    assert list(d.spread_noise) == spread[: len(d.spread_noise)]

    bad_query = query + "&x=1"
    raw_bad = bad_query + "&a_bogus=" + quote(value, safe="")
    refused = verify_signed_query(raw_bad, ua, strictness="full", body=body, now_ms=t_sign)
    assert (refused is not None) == (v2_query_bytes(bad_query) != v2_query_bytes(query))

    bad_ua = ua + "!"
    assume(v2_ua_bytes(bad_ua, flag_e) != v2_ua_bytes(ua, flag_e))
    refused = verify_signed_query(raw, bad_ua, strictness="full", body=body, now_ms=t_sign)
    assert refused == "a_bogus user-agent hash mismatch"

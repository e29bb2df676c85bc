import pytest

from dylive.wire.signing import a_bogus_v2, decode_a_bogus_v2
from dylive.wire.signing.abogus_v2 import check_hashes_v2
from dylive.wire.signing.primitives import S4

Y1_SCREEN = "2048|960|2554|1386|2560|1392|2560|1440|Win32"
SAER_SCREEN = "1441|838|1441|913|1441|913|1441|961|Win32"

UA_EDGE140 = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/140.0.0.0 Safari/537.36 Edg/140.0.0.0"
)


A1_QUERY = (
    "aid=6383&app_name=douyin_web&live_id=1&device_platform=web&language=zh-CN"
    "&enter_from=page_refresh&cookie_enabled=true&screen_width=1920&screen_height=1080"
    "&browser_language=zh-CN&browser_platform=Win32&browser_name=Edge&browser_version=140.0.0.0"
    "&web_rid=261378947940&room_id_str=7659772534023654196&enter_source="
    "&is_need_double_stream=false&insert_task_id=&live_reason=&msToken="
)
A2_QUERY = "aid=6383&app_name=douyin_web&room_id=123456789"

V2_Y1 = (
    "O7UfDzU7dNmfCdKt8CrveaZUaej/rPWyfrTKbLaucxOfOZlcLuNMMxt5rxwiswDgYYBhhq1HadM/bDnc0nUs1Inpumk"
    "kuOwWOTVc9WvLM1qfYzikgHbPezsFqXBe8m4iaQ5ViljfgUHw1jn-hHdm/pVC7KYK5OuhOpxRk2uSY9GXZMLAE3cH"
    "PQGkoh-b"
)
V2_SAER_B1_QUERY = A1_QUERY.replace(
    "screen_width=1920&screen_height=1080", "screen_width=5120&screen_height=1440"
)
V2_SAER_B1 = (
    "O7UfhzU7dqmfCdMb8Cdft-lUal6/rPWy-rTKRLrTCQ5bOZUPLuNMMxt5rxL0z7pIYYBhhqlHPnF/Gfnc0GUsZ9npumh"
    "kuqzjOT2c9WvLMqN6YzwsgHSOCzTFqwBe8RULaQcfilRR6sBN1EClIHImApVa75To-OupbNZ5p2uybDbUpBLTnn/H"
    "eckEo2Y="
)


def y1(**override):
    kwargs = dict(
        screen=Y1_SCREEN,
        t_sign_ms=1764316800000,
        t_start_ms=1764316790000,
        t_ink_ms=1764316799999,
        t_period_ms=1764316800000,
        flag_e=14,
        env_mask=1,
        event=(0, 0, 0, 0, 129),
        page_id=7571,
        noise_a=(255, 127),
        noise_b=(121, 178),
        prefix=(255, 0),
        spread_noise=[125] * 40,
    )
    kwargs.update(override)
    return a_bogus_v2(A2_QUERY, "", UA_EDGE140, **kwargs)


def test_v2_ylc_y1_exact():
    assert y1() == V2_Y1
    assert y1(spread_noise=125) == V2_Y1


def test_v2_saer_b1_exact():
    value = a_bogus_v2(
        V2_SAER_B1_QUERY,
        "",
        UA_EDGE140,
        screen=SAER_SCREEN,
        t_sign_ms=1764316800010,
        t_start_ms=1764316800000,
        t_ink_ms=1764316800001,
        t_period_ms=1764316800550,
        flag_e=0,
        env_mask=1,
        event=(211, 2, 5, 1, 129),
        page_id=6241,
        noise_a=(255, 63),
        noise_b=(121, 255),
        prefix=(255, 20),
        spread_noise=[125] * 32,
        saer_tail=True,
    )
    assert value == V2_SAER_B1


def test_v2_y1_decodes():
    d = decode_a_bogus_v2(V2_Y1)
    assert d.prefix == (255, 0)
    assert d.noise_a == (255, 127) and d.noise_b == (121, 178)
    assert set(d.spread_noise) == {125}
    assert d.screen == Y1_SCREEN
    assert d.t_string == "3,"  # (1764316800000 + 3) & 255 == 3
    assert d.t_sign_ms == 1764316800000 and d.t_ink_ms == 1764316799999
    assert d.sign_minus_start == (10000 + 3) % 256 - 3
    assert d.period == (1764316800000 - 1721836800000) // 1209600000
    assert (d.u27, d.env_mask, d.event, d.flag_e) == (6, 1, (0, 0, 0, 0, 129), 14)
    assert (d.page_id, d.aid) == (7571, 6383)
    assert d.body_hash == (82, 177, 44)
    assert not d.zero_padded
    assert check_hashes_v2(d, A2_QUERY, "", UA_EDGE140) is None
    assert check_hashes_v2(d, A2_QUERY + "&x=1", "", UA_EDGE140) == "a_bogus query hash mismatch"


def test_v2_saer_b1_decodes_with_zero_padding():
    d = decode_a_bogus_v2(V2_SAER_B1)
    assert d.zero_padded
    assert d.page_id == 6241 and d.flag_e == 0 and d.event == (211, 2, 5, 1, 129)
    assert check_hashes_v2(d, V2_SAER_B1_QUERY, "", UA_EDGE140) is None


def test_v2_length_and_tail_rule():
    # L = 51 + len(W2) + len(T); bytes = 12 + 4*floor(L/3) + L%3
    screen_len = len(Y1_SCREEN)
    length = 51 + screen_len + 2
    assert len(S4.decode(V2_Y1)) == 12 + 4 * (length // 3) + length % 3


def test_spread_noise_too_short():
    with pytest.raises(ValueError):
        y1(spread_noise=[1, 2, 3])


@pytest.mark.parametrize(
    "value", ["", "O7Uf", V2_Y1[:-12], V2_Y1[:60] + ("A" if V2_Y1[60] != "A" else "B") + V2_Y1[61:]]
)
def test_v2_decoder_rejects_malformed(value):
    with pytest.raises(ValueError):
        decode_a_bogus_v2(value)

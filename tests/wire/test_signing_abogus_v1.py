import pytest

from dylive.wire.signing import a_bogus_v1, decode_a_bogus_v1
from dylive.wire.signing.abogus_v1 import check_hashes_v1
from dylive.wire.signing.primitives import S3, S4, rc4s, sm3, sm3sm3

F2_SEEDS = ((3, 45), (3, 45), (3, 45))
JWW_SEEDS = ((3, 45), (1, 0), (1, 5))
R_A1 = (1234, 9876, 5555)

UA_MAC123 = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/123.0.0.0 Safari/537.36"
)
UA_EDGE140 = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/140.0.0.0 Safari/537.36 Edg/140.0.0.0"
)
UA_CHROME136 = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/136.0.0.0 Safari/537.36"
)
UA_MAC131 = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
)

V1_REAL_1_QUERY = (
    "aid=6383&app_name=douyin_web&live_id=1&device_platform=web&language=zh-CN"
    "&enter_from=page_refresh&cookie_enabled=true&screen_width=1280&screen_height=800"
    "&browser_language=zh-CN&browser_platform=MacIntel&browser_name=Chrome"
    "&browser_version=123.0.0.0&room_id=7355825862882888502&count=1"
    "&msToken=rHmxhxrUOZy3y-hYJXTs-LOK4lSfvQe9omafHFAvs6Z2P7dUNKR0j_xMqFCTSJqYddFKuEI7vOVFDmFgCM8"
    "TLmg38TVaEnNZTBqYBR5LKDNbysmLzOMv7L7NSm5jXxMp"
)
V1_REAL_1_WINDOW = "164|569|1280|690|0|25|0|0|1280|690|1280|800|164|569|24|24|MacIntel"
V1_REAL_1 = (
    "DyW0/VgDDkDBkDWZ565LfY3q6vKJYMCU0tLVMD2fEInAfg39HMY59exYX-XvxsujLT/AIeLjy4hbTNaMi5dGA3v378"
    "DKWoAZ-g00te/Q5xSSs1XJtyUgnzwNmktUCec2Rv3lrOXBoJKCKm00AIee-wHvyhnFwo8sNike"
)

A1_QUERY = (
    "aid=6383&app_name=douyin_web&live_id=1&device_platform=web&language=zh-CN"
    "&enter_from=page_refresh&cookie_enabled=true&screen_width=1920&screen_height=1080"
    "&browser_language=zh-CN&browser_platform=Win32&browser_name=Edge&browser_version=140.0.0.0"
    "&web_rid=261378947940&room_id_str=7659772534023654196&enter_source="
    "&is_need_double_stream=false&insert_task_id=&live_reason=&msToken="
)
JWW_WINDOW = "1920|1080|1920|1040|0|30|0|0|1872|92|1920|1040|1857|92|1|24|Win32"
A2_QUERY = "aid=6383&app_name=douyin_web&room_id=123456789"
A2_WINDOW = "1536|742|1536|864|0|0|0|0|1536|864|1536|864|1536|742|24|24|Win32"
A3_QUERY = (
    "device_platform=webapp&aid=6383&channel=channel_pc_web&keyword=%E7%9B%B4%E6%92%AD"
    "&cookie_enabled=true"
)
A3_BODY = "aweme_type=0&item_id=7467485482314763572&play_delta=1&source=0"
A3_WINDOW = "1512|945|1512|982|0|38|0|0|1512|982|1512|945|1512|945|24|24|MacIntel"


def real_1() -> str:
    return a_bogus_v1(
        V1_REAL_1_QUERY,
        "{}",
        UA_MAC123,
        window=V1_REAL_1_WINDOW,
        t_a_ms=1712667407898,
        t_b_ms=1712667407896,
        r=(6471, 4128, 1806),
        args=(0, 1, 0),
        page_id=7571,
        aid=6383,
        seeds=((3, 45), (1, 0), (1, 7)),
    )


def test_v1_real_1_exact():
    assert real_1() == V1_REAL_1
    assert len(V1_REAL_1) == 164 and len(V1_REAL_1_WINDOW) == 66


def test_v1_real_1_intermediates():
    h_q = sm3sm3(V1_REAL_1_QUERY + "cus")
    assert h_q.hex().startswith("b505d2fd")
    assert (h_q[21], h_q[22]) == (46, 244)
    h_b = sm3sm3("{}cus")
    assert (h_b[21], h_b[22]) == (88, 123)
    ua_b64 = S3.encode(rc4s(b"\x00\x01\x00", UA_MAC123.encode()))
    assert ua_b64 == (
        "Ag0FO8bKSZsEpNhoVrRY3WbRakSc3OpD2avosoCAFtRMbtwDT12gG2HEskurfId5nmpe9IuAE3r8/385Ece9cc2iu"
        "NqUcmWe/c1aBaAR7kkzpwxTs9TSfYKMUtrkmjMYtiGa28AzNKLMvbV17D6awTlLzHh+"
    )
    h_u = sm3(ua_b64.encode())
    assert (h_u[23], h_u[24]) == (85, 133)

    raw = S4.decode(V1_REAL_1)
    assert len(raw) == 123
    assert list(raw[:12]) == [3, 71, 13, 57, 33, 0, 0, 16, 11, 4, 7, 7]
    assert list(raw[12:20]) == [105, 70, 164, 66, 132, 231, 81, 27]
    plain = rc4s(b"y", raw[12:])
    header = [int(x) for x in ["44", "194", "0", "0", "0", "0", "24", "46", "88", "0", "85", "238", "0", "29", "147", "1", "0", "239", "244", "123", "133", "182", "0", "0", "0", "0", "26", "0", "0", "0", "194", "238", "0", "182", "24", "3", "142", "1", "142", "1", "66", "0", "0", "0"]]  # fmt: skip
    assert list(plain[:44]) == header
    assert plain[-1] == 62


def test_v1_real_1_decodes():
    d = decode_a_bogus_v1(V1_REAL_1)
    assert d.r == (6471, 4128, 1806)
    assert d.seeds == ((3, 45), (1, 0), (1, 7))
    assert d.window == V1_REAL_1_WINDOW
    assert (d.t_a_ms, d.t_b_ms) == (1712667407898, 1712667407896)
    assert d.args == (0, 1, 0)
    assert (d.page_id, d.aid) == (7571, 6383)
    assert check_hashes_v1(d, V1_REAL_1_QUERY, "{}", UA_MAC123) is None
    assert check_hashes_v1(d, V1_REAL_1_QUERY, "", UA_MAC123) == "a_bogus body hash mismatch"


def f2(query, body, ua, window, t_a, t_b, r):
    return a_bogus_v1(
        query, body, ua, window=window, t_a_ms=t_a, t_b_ms=t_b, r=r, page_id=0, seeds=F2_SEEDS
    )


def ttd(query, ua, window, t_a, t_b, r):
    # TTD hashes the method instead of the body.
    return a_bogus_v1(
        query, "GET", ua, window=window, t_a_ms=t_a, t_b_ms=t_b, r=r, page_id=0, seeds=JWW_SEEDS
    )


def jww(query, ua, t):
    # JWW: fixed W and R, t_b = t_a + 100, empty body, unpadded UA base64, 32-bit clock,
    # page_id 110624, unpadded output + "=".
    return a_bogus_v1(
        query, "", ua, window=JWW_WINDOW, t_a_ms=t, t_b_ms=t + 100, r=R_A1, page_id=110624,
        seeds=JWW_SEEDS, ua_padding=False, clock_hi=False, jww_output=True,
    )  # fmt: skip


CASES = {
    "A1-F2": (
        lambda: f2(A1_QUERY, "", UA_EDGE140, JWW_WINDOW, 1764316800000, 1764316800100, R_A1),
        "E7mhBmgIsnnNgj6t569LfY3q6Aa3YmmQ0SVkMD2fJn3SgL39HMYD9exo1xsv9KWjiT/QIeYjy4hbO3xprQAjM36UHW"
        "wEUdQ2mgWkKl5Q5I0j53iruyRDntmF4vj3SFlm5XNAEOk0y75rKb70Woqe-vIlO62-zo0/9Vg=",
    ),
    "A1-JWW": (
        lambda: jww(A1_QUERY, UA_EDGE140, 1764316800000),
        "E7mhBmg6mEVNgf6X569LfY3q6Aa3Y1LQ0HViMD2fJn3bgL39HMYD9exo1xsv9KWjZsmfIFYjy4hbO3xprQAjM36UHW"
        "wEUdQ2mgWkKl5Q5I0j53iruyRDntmF4vj3SFlm5XNAEOk0y75rKb70Woqe-vIlO62-zo0/96S=",
    ),
    "A1-TTD": (
        lambda: ttd(A1_QUERY, UA_EDGE140, JWW_WINDOW, 1764316800000, 1764316800100, R_A1),
        "E7mhBmg6mEVNgf6X569LfY3q6AbVYmmQ0SVkMD2fJapSgL39HMYD9exo1xsv9KWjiT/QIeYjy4hbO3xprQAjM36UHW"
        "wEUdQ2mgWkKl5Q5I0j53iruyRDntmF4vj3SFlm5XNAEOk0y75rKb70Woqe-vIlO62-zo0/91f=",
    ),
    "A2-F2": (
        lambda: f2(A2_QUERY, "", UA_CHROME136, A2_WINDOW, 1700000000000, 1700000000007, (0, 0, 0)),
        "DfmhQDgdkVEkDE6Y56KLfY3q6333YMQI0SVkMD2fJV3MqL39HMYD9exoIBGvXYfjwG/-Ieujy4hbT3ohrQ2y0Hwf9W"
        "0L/25ksDSkKl5Q5xSSs1X9eghgJ04qmkt5SMx2RvB-rOXmqhZHKRbp09oHmhK4bIOwu3GM3j==",
    ),
    "A2-TTD": (
        lambda: ttd(A2_QUERY, UA_CHROME136, A2_WINDOW, 1700000000000, 1700000000007, (0, 0, 0)),
        "DfmhQDgDDDDkDD6D56KLfY3q63fVYMQI0SVkMD2fJ-pMqL39HMYD9exoIBGvXYfjwG/-Ieujy4hbT3ohrQ2y0Hwf9W"
        "0L/25ksDSkKl5Q5xSSs1X9eghgJ04qmkt5SMx2RvB-rOXmqhZHKRbp09oHmhK4bIOwu3GM2E==",
    ),
    "A2-JWW": (
        lambda: jww(A2_QUERY, UA_CHROME136, 1700000000000),
        "E7mhBmg6mEVNgf6X56KLfY3q6333YlQI0HViMD2fJV3MqL39HMYD9exoIBGvXKWjZsmfIFYjy4hbO3xprQAjM36UHW"
        "wEUdQ2mgWkKl5Q5I0j53iruyRDntmF4vj3SFlm5XNAEOk0y75rKb70Woqe-vIlO62-zo0/9Vu=",
    ),
    "A3-F2": (
        lambda: f2(
            A3_QUERY, A3_BODY, UA_MAC131, A3_WINDOW, 1735689600123, 1735689600131, (9999, 4242, 777)
        ),
        "djWqBR8Vk3EsDjWT54KLfY3q6WXwYQ450SVkMD2fhOhLxL39HMTa9exoxZsvfEDjxs/gIeSjy4hbT3KkrQCy8Zwf9W"
        "hE/2AMmESkKl1/so0j53inCLRQE0wP-wsAtFemsvH-iCi8ow5GSY8hlxAJ5kIlO62kFobyifELtAg=",
    ),
    "A3-TTD": (
        lambda: ttd(
            A3_QUERY, UA_MAC131, A3_WINDOW, 1735689600123, 1735689600131, (9999, 4242, 777)
        ),
        "djWqBR8fDkDsDfWk54KLfY3q6W6VYQ450SVkMD2fhPkLxL39HMTa9exoxZsvfEDjxs/gIeSjy4hbT3KkrQCy8Zwf9W"
        "hE/2AMmESkKl1/so0j53inCLRQE0wP-wsAtFemsvH-iCi8ow5GSY8hlxAJ5kIlO62kFobyifELtRW=",
    ),
    "A3-JWW": (
        lambda: jww(A3_QUERY, UA_MAC131, 1735689600123),
        "E7mhBmg6mEVNgf6X54KLfY3q6W13Y5450HViMD2fhxvLxL39HMTa9exoxZsvfwjjZsmfIFYjy4hbO3xprQAjM36UHW"
        "wEUdQ2mgWkKl5Q5I0j53iruyRDntmF4vj3SFlm5XNAEOk0y75rKb70Woqe-vIlO62-zo0/93R=",
    ),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_v1_implementation_vectors(name):
    make, expected = CASES[name]
    assert make() == expected


def test_f2_unmasked_hi_bytes_equal_masked():
    # §2.3: F2 stores floor(t/2^32) unmasked; the result equals the masked computation,
    # which is what a_bogus_v1 does. Sanity: decoding F2's A2 value gives back the clocks.
    d = decode_a_bogus_v1(CASES["A2-F2"][1])
    assert (d.t_a_ms, d.t_b_ms) == (1700000000000, 1700000000007)
    assert d.seeds == F2_SEEDS and d.page_id == 0


def test_jww_values_decode():
    d = decode_a_bogus_v1(CASES["A1-JWW"][1])
    assert d.page_id == 110624 and d.r == R_A1 and d.window == JWW_WINDOW
    assert d.t_a_ms == 1764316800000 & 0xFFFFFFFF  # JWW truncates the clock to 32 bits
    assert check_hashes_v1(d, A1_QUERY, "", UA_EDGE140) is None  # unpadded UA accepted


@pytest.mark.parametrize(
    "value",
    ["", "abc", V1_REAL_1[:-8], V1_REAL_1[:40] + "D" + V1_REAL_1[41:], "!" + V1_REAL_1[1:]],
)
def test_v1_decoder_rejects_malformed(value):
    with pytest.raises(ValueError):
        decode_a_bogus_v1(value)

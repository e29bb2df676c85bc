import hashlib
import os

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dylive.wire.signing.primitives import (
    S0,
    S1,
    S2,
    S3,
    S4,
    mix,
    rc4m,
    rc4s,
    sm3,
    sm3_pure,
    sm3sm3,
    unmix,
)

SM3_EMPTY = "1ab21d8355cfa17f8e61194831e81a8f22bec8c728fefb747ed035eb5082aa2b"
SM3_ABC = "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"


@pytest.mark.parametrize("impl", [sm3, sm3_pure])
def test_sm3_check_values(impl):
    assert impl(b"").hex() == SM3_EMPTY
    assert impl(b"abc").hex() == SM3_ABC
    # GB/T 32905 example 2: "abcd" × 16 (one full block plus padding block).
    assert (
        impl(b"abcd" * 16).hex()
        == "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732"
    )


def test_sm3_pure_matches_selected_on_all_padding_lengths():
    for n in range(0, 200):
        data = os.urandom(n)
        assert sm3_pure(data) == sm3(data)
    if "sm3" in hashlib.algorithms_available:
        assert sm3_pure(b"x" * 1000) == hashlib.new("sm3", b"x" * 1000).digest()


def test_sm3_pure_prefix_cache_is_transparent():
    from dylive.wire.signing import primitives

    base = os.urandom(64 * 5 + 17)
    variants = [base, base[:200] + b"x" * 300, base[:128], base[: 64 * 3] + b"tail", base + b"!"]
    warm = [sm3_pure(v) for v in variants]
    primitives._PREFIX_STATES.clear()
    cold = []
    for v in variants:
        primitives._PREFIX_STATES.clear()
        cold.append(sm3_pure(v))
    assert warm == cold
    if "sm3" in hashlib.algorithms_available:
        assert warm == [hashlib.new("sm3", v).digest() for v in variants]


def test_double_sm3_constants():
    assert sm3sm3("cus").hex() == "886572933a4dcfc9d7a29a5df80d8ea06949d7f1533a332bff26a88dd8c223ec"
    assert sm3sm3("dhzx").hex() == (
        "40fd9cf02c609f961b7a5234c578ea77f55947b163621c8e05637bc7b00998f0"
    )
    assert (sm3sm3("cus")[21], sm3sm3("cus")[22]) == (58, 51)
    h = sm3sm3("dhzx")
    assert (h[10], h[19], h[4]) == (82, 177, 44)


def test_rc4s_keystream_of_key_y():
    stream = rc4s(b"y", bytes(12))
    assert stream.hex() == "4584a44284e74935e9a0aa73"


def test_rc4s_matches_textbook_vector():
    # Classic RC4 test vector: key "Key", plaintext "Plaintext".
    assert rc4s(b"Key", b"Plaintext").hex() == "bbf316e8d940af0ad3"


def test_rc4m_differs_from_rc4s_and_is_an_involution():
    data = b"hello world" * 30
    assert rc4m(b"\xd3", data) != rc4s(b"\xd3", data)
    assert rc4m(b"\xd3", rc4m(b"\xd3", data)) == data
    # Reversed box, key 0 everywhere: j stays 0, so the first swaps are S[i] <-> S[0].
    box = list(range(255, -1, -1))
    j = 0
    for i in range(256):
        j = (j * box[i] + j + 0) & 255
        box[i], box[j] = box[j], box[i]
    i = j = 0
    expected = bytearray()
    for _ in range(5):
        i = (i + 1) & 255
        j = (j + box[i]) & 255
        box[i], box[j] = box[j], box[i]
        expected.append(box[(box[i] + box[j]) & 255])
    assert rc4m(b"\x00", bytes(5)) == bytes(expected)


def test_alphabets_and_padding():
    assert S0.encode(b"abcd") == "YWJjZA=="
    for alpha in (S1, S2, S3, S4):
        assert len(set(alpha.chars)) == 64
    # "=" padding after a partial group, as the bdms encoder does for S3/S4.
    assert S4.encode(b"\x00") == "DD=="
    assert S4.encode(b"\x00\x00") == "DDD="
    assert S4.encode(b"\x00\x00", pad=False) == "DDD"
    with pytest.raises(ValueError):
        S4.decode("+abc")  # "+" is not in S4


@given(st.binary(max_size=200), st.sampled_from([S0, S1, S2, S3, S4]))
def test_base64_round_trip(data, alpha):
    assert alpha.decode(alpha.encode(data)) == data
    assert alpha.decode(alpha.encode(data, pad=False)) == data


@given(st.integers(0, 255), st.integers(0, 255), st.integers(0, 255), st.integers(0, 255))
def test_mix_unmix(r_lo, r_hi, s0, s1):
    assert unmix(mix(r_lo, r_hi, s0, s1)) == (r_lo, r_hi, s0, s1)

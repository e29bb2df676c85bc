import hashlib
import itertools

from hypothesis import assume, given
from hypothesis import strategies as st

from dylive.wire.signing import (
    sign_push,
    signature_stub,
    verify_webcast_signature,
    webcast_signature,
)
from dylive.wire.signing.primitives import S1, rc4s
from dylive.wire.signing.push import STUB_KEYS, stub_string

SAMPLE = {
    "app_name": "douyin_web",
    "version_code": "180800",
    "webcast_sdk_version": "1.0.14-beta.0",
    "aid": "6383",
    "live_id": "1",
    "did_rule": "3",
    "user_unique_id": "7319483754668557238",
    "device_platform": "web",
    "identity": "audience",
    "room_id": "7376429659866598196",
    "cursor": "ignored",
}
EXPECTED_STUB_STRING = (
    "live_id=1,aid=6383,version_code=180800,webcast_sdk_version=1.0.14-beta.0,"
    "room_id=7376429659866598196,sub_room_id=,sub_channel_id=,did_rule=3,"
    "user_unique_id=7319483754668557238,device_platform=web,device_type=,ac=,identity=audience"
)


def test_stub_key_order_and_empty_values():
    assert STUB_KEYS == (
        "live_id", "aid", "version_code", "webcast_sdk_version", "room_id", "sub_room_id",
        "sub_channel_id", "did_rule", "user_unique_id", "device_platform", "device_type", "ac",
        "identity",
    )  # fmt: skip
    assert stub_string(SAMPLE) == EXPECTED_STUB_STRING
    stub = signature_stub(SAMPLE)
    assert stub == hashlib.md5(EXPECTED_STUB_STRING.encode()).hexdigest()
    assert stub == "058efe5871fbb0d4dc82ddf4528838ab"
    assert len(stub) == 32 and stub == stub.lower()


def test_stub_of_empty_params():
    expected = ",".join(f"{k}=" for k in STUB_KEYS)
    assert stub_string({}) == expected
    assert signature_stub({}) == hashlib.md5(expected.encode()).hexdigest()


def test_spec_vector():
    sig = webcast_signature("704f436b2558b0d7a1c7e758527dd8f1", counter=0, flag=False, r1=0, key=6)
    assert sig == "fD+evFuzasjOC8Uu"
    assert verify_webcast_signature("704f436b2558b0d7a1c7e758527dd8f1", sig)


def test_header_bytes_carry_flag_and_key():
    sig = webcast_signature("704f436b2558b0d7a1c7e758527dd8f1", counter=5, flag=True, r1=9, key=200)
    raw = S1.decode(sig)
    assert len(sig) == 16 and raw[0] == 0x50 and raw[1] == 200


def test_verify_rejects_garbage():
    stub = "704f436b2558b0d7a1c7e758527dd8f1"
    assert not verify_webcast_signature(stub, "00000000")
    assert not verify_webcast_signature(stub, "fD+evFuzasjOC8U!")
    assert not verify_webcast_signature("not-hex", "fD+evFuzasjOC8Uu")
    # flip one character of the valid vector: checksum or stub bytes break
    assert not verify_webcast_signature(stub, "fD+evFuzasjOC8Ua")


stubs = st.binary(min_size=16, max_size=16).map(bytes.hex)


@given(stubs, st.integers(0, 10_000), st.booleans(), st.integers(0, 254), st.integers(0, 254))
def test_round_trip(stub, counter, flag, r1, key):
    sig = webcast_signature(stub, counter=counter, flag=flag, r1=r1, key=key)
    assert len(sig) == 16
    assert verify_webcast_signature(stub, sig)


@given(stubs, stubs, st.integers(0, 63), st.integers(0, 254), st.integers(0, 254))
def test_other_stub_is_refused(stub, other, counter, r1, key):
    md5 = hashlib.md5
    assume(md5(bytes.fromhex(stub)).digest()[14:] != md5(bytes.fromhex(other)).digest()[14:])
    sig = webcast_signature(stub, counter=counter, flag=False, r1=r1, key=key)
    assert not verify_webcast_signature(other, sig)


def test_sign_push_counter_advances():
    sigs = [sign_push(SAMPLE) for _ in range(70)]
    stub = signature_stub(SAMPLE)
    assert all(verify_webcast_signature(stub, s) for s in sigs)
    counters = []
    for s in sigs:
        raw = S1.decode(s)
        counters.append(rc4s(raw[1:2], raw[2:])[0])
    # consecutive counters differ by one modulo 64
    assert all((b - a) % 64 == 1 for a, b in itertools.pairwise(counters))

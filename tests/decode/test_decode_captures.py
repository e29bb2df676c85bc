"""The real 2021 im/fetch captures decode completely; their rendered JSON is pinned."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import orjson
import pytest

from dylive.decode import DecodeFailed, UnknownEvent, decode, render
from dylive.wire.frames import parse_response

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "captures"
SHARED = Path(__file__).resolve().parents[3] / "shared" / "captures"
CAPTURES = ["imfetch-2021-09", "imfetch-2021-12"]


def _load(name: str) -> bytes:
    return bytes.fromhex((FIXTURES / f"{name}.hex").read_text().strip())


@pytest.mark.parametrize("name", CAPTURES)
def test_fixture_copy_is_the_shared_ground_truth(name: str) -> None:
    shared = SHARED / f"{name}.hex"
    if not shared.exists():
        pytest.skip("../shared/captures is not beside this checkout")
    assert (FIXTURES / f"{name}.hex").read_bytes() == shared.read_bytes()


@pytest.mark.parametrize("name", CAPTURES)
def test_capture_decodes_completely_and_matches_golden(name: str) -> None:
    batch = parse_response(_load(name))
    events = [decode(m) for m in batch.messages]
    assert not [e for e in events if isinstance(e, UnknownEvent | DecodeFailed)]
    rendered = [render(e) for e in events]
    golden = [orjson.loads(line) for line in (FIXTURES / f"{name}.jsonl").read_bytes().splitlines()]
    assert rendered == golden


def test_december_capture_contents() -> None:
    batch = parse_response(_load("imfetch-2021-12"))
    assert len(_load("imfetch-2021-12")) == 34813
    assert batch.cursor == "1639368239569_7041032972606415475_1_1"
    assert batch.fetch_interval == 1000
    assert batch.now == 1639368239569
    assert batch.internal_ext.startswith("fetch_time:1639368239569|start_time:1639368224247|")
    assert Counter(m.method for m in batch.messages) == {
        "WebcastMemberMessage": 14,
        "WebcastRoomUserSeqMessage": 2,
        "WebcastLiveShoppingMessage": 2,
        "WebcastRoomMessage": 1,
        "WebcastRoomIntroMessage": 1,
        "WebcastChatMessage": 1,
    }
    chat = render(decode(next(m for m in batch.messages if m.method == "WebcastChatMessage")))
    assert chat["msg_id"] == 7041032912153662503
    assert chat["payload"]["room_id"] == 7040828559455554317
    assert chat["payload"]["content"] == "山海经及增广贤文已拍"
    assert chat["payload"]["user"]["uid"] == 100041481527
    assert chat["payload"]["user"]["nickname"] == "静境"
    assert chat["payload"]["user"]["unique_id"] == "1044416177"
    seq = [decode(m) for m in batch.messages if m.method == "WebcastRoomUserSeqMessage"]
    first = render(seq[0])["payload"]
    assert first["viewers"]["total"] == 165
    assert first["viewers"]["total_user"] == 133339
    assert first["viewers"]["total_pv_for_anchor"] == "13.3万"
    assert [r["rank"] for r in first["ranks"]] == list(range(1, 10))
    member = render(decode(batch.messages[3]))
    assert member["payload"]["content"] == "来了"
    assert member["payload"]["member_count"] == 169
    assert member["payload"]["user"]["pay_grade_level"] == 9


def test_september_capture_room_intro_has_room_id_zero() -> None:
    batch = parse_response(_load("imfetch-2021-09"))
    assert [m.method for m in batch.messages] == ["WebcastRoomMessage", "WebcastRoomIntroMessage"]
    intro = render(decode(batch.messages[1], room_id=7009940465588357924))
    assert intro["payload"]["room_id"] == 0
    assert intro["payload"]["user"]["nickname"] == "希蓝蓝"
    assert intro["payload"]["content"].startswith("欢迎来到直播间 感谢大家观看")


def test_msg_ids_serialize_exactly_beyond_2_53() -> None:
    batch = parse_response(_load("imfetch-2021-12"))
    text = orjson.dumps(render(decode(batch.messages[0])))
    assert b'"msg_id":7041032975395946538' in text
    assert 7041032975395946538 > 2**53

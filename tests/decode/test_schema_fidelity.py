"""Schema fidelity with the public schemas (DouyinLiveWebFetcher's douyin.proto and
jwwsjlm/douyinlive-proto): FollowInfo 6/7, the User / PayGrade / LiveShopping fields dylive
lacked, and a decoder for WebcastProductChangeMessage."""

from __future__ import annotations

import dylive
from dylive.decode import LiveShoppingEvent, ProductChangeEvent, decode, render
from dylive.proto import webcast_pb2 as pb
from dylive.wire.frames import RawMessage


def field_numbers(message: type) -> dict[str, int]:
    return {f.name: f.number for f in message.DESCRIPTOR.fields}  # type: ignore[attr-defined]


def test_follow_info_counts_text_fields_are_6_follower_and_7_following() -> None:
    fields = field_numbers(pb.FollowInfo)
    assert fields["follower_count_str"] == 6 and fields["following_count_str"] == 7


def test_user_pay_grade_and_live_shopping_fields() -> None:
    user = field_numbers(pb.User)
    assert (user["user_attr"], user["link_mic_stats"], user["authorization_info"]) == (32, 37, 54)
    assert (user["webcast_uid"], user["id_str"]) == (73, 1028)
    grade = field_numbers(pb.PayGrade)
    assert (grade["new_im_icon_with_level"], grade["new_live_icon"]) == (19, 20)
    shop = field_numbers(pb.LiveShoppingMessage)
    assert [shop[n] for n in ("updated_product_ids", "update_type", "updated_product_info")] == [
        9,
        10,
        11,
    ]
    assert (shop["sold_out"], shop["update_timestamp"], shop["logical_clock"]) == (12, 15, 33)
    assert pb.RoomIntroMessage.DESCRIPTOR.fields_by_name["style"].type == 4  # TYPE_UINT64


def test_product_change_decodes_and_renders() -> None:
    msg = pb.ProductChangeMessage(update_timestamp=1765000000, update_toast="上新了", total=3)
    msg.common.room_id = 7
    msg.update_product_info.add(promotion_id=3712345678901234567, index=1)
    msg.update_product_info.add(promotion_id=42, index=2)
    event = decode(RawMessage("WebcastProductChangeMessage", 9, msg.SerializeToString()))
    assert dylive.ProductChangeEvent is ProductChangeEvent
    assert isinstance(event, ProductChangeEvent)
    assert event.promotion_ids == (3712345678901234567, 42) and event.total == 3
    out = render(event)
    assert out["payload"]["content"] == "上新了"
    assert out["payload"]["products"] == {
        "update_timestamp": 1765000000,
        "total": 3,
        "promotion_ids": [3712345678901234567, 42],
    }


def test_live_shopping_updates_are_decoded() -> None:
    plain = pb.LiveShoppingMessage(msg_type=1, promotion_id=5)
    event = decode(RawMessage("WebcastLiveShoppingMessage", 1, plain.SerializeToString()))
    assert render(event)["payload"]["shopping"] == {"msg_type": 1, "promotion_id": 5}
    full = pb.LiveShoppingMessage(msg_type=2, promotion_id=5, update_type=3, sold_out=True)
    full.updated_product_ids.extend([5, 6])
    full.update_timestamp = 1765000001
    event = decode(RawMessage("WebcastLiveShoppingMessage", 2, full.SerializeToString()))
    assert isinstance(event, LiveShoppingEvent) and event.updated_product_ids == (5, 6)
    assert (event.update_type, event.sold_out, event.update_timestamp) == (3, True, 1765000001)
    # the public JSON keeps its shape (the recorded captures' golden renderings pin it)
    assert render(event)["payload"]["shopping"] == {"msg_type": 2, "promotion_id": 5}


def test_real_capture_carries_the_new_live_shopping_fields() -> None:
    """The 2021-12 im/fetch capture's LiveShopping message sets fields 9 and 15: a product id
    and a plausible unix time, which is what the public schemas call them."""
    from pathlib import Path

    from dylive.wire.frames import parse_response

    hexed = Path(__file__).resolve().parents[1] / "fixtures" / "captures" / "imfetch-2021-12.hex"
    batch = parse_response(bytes.fromhex(hexed.read_text().strip()))
    shops = [m for m in batch.messages if m.method == "WebcastLiveShoppingMessage"]
    (event,) = [e for e in map(decode, shops) if e.msg_id == 7041032924405287694]
    assert isinstance(event, LiveShoppingEvent)
    assert event.updated_product_ids == (3485985919754992429,)
    assert event.update_timestamp == 1639368235  # 2021-12-13, the capture's date
    assert event.created_at // 1000 - event.update_timestamp < 60

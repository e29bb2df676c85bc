"""Douyin's own JSON shapes that dylive both produces (simulator) and serves (ledger ranking).

The ranklist/audience ``user`` object carries many account and privacy fields whose values are
constant for a web viewer; the keys and types follow ../shared/spec/api-contract.md §2.
"""

from __future__ import annotations

from typing import Any

#: The fields of a ranklist ``user`` object that do not depend on the user (contract §2 order).
USER_CONSTANTS: dict[str, Any] = {
    "adversary_authorization_info": 0,
    "adversary_user_status": 0,
    "allow_be_located": False,
    "allow_find_by_contacts": False,
    "allow_others_download_video": False,
    "allow_others_download_when_sharing_video": False,
    "allow_share_show_profile": False,
    "allow_show_in_gossip": False,
    "allow_show_my_action": False,
    "allow_strange_comment": False,
    "allow_unfollower_comment": False,
    "allow_use_linkmic": False,
    "badge_image_list": [],
    "bg_img_url": "",
    "birthday": 0,
    "birthday_description": "",
    "birthday_valid": False,
    "block_status": 0,
    "comment_restrict": 0,
    "commerce_webcast_config_ids": [],
    "constellation": "",
    "create_time": 0,
    "disable_ichat": 0,
}


def image_json(url_list: list[str], uri: str = "") -> dict[str, Any]:
    """Douyin's ``Image`` JSON object (e.g. ``avatar_thumb``)."""
    return {
        "avg_color": "",
        "height": 0,
        "image_type": 0,
        "is_animated": False,
        "open_web_url": "",
        "uri": uri,
        "url_list": url_list,
        "width": 0,
    }


def user_json(
    *,
    uid: int,
    nickname: str,
    display_id: str,
    sec_uid: str,
    short_id: int,
    gender: int,
    avatar_thumb: dict[str, Any],
    pay_grade: dict[str, Any],
    fans_club_data: dict[str, Any],
    follow_info: dict[str, Any],
    authorization_info: int = 3,
    city: str = "",
) -> dict[str, Any]:
    """A full ranklist ``user`` object: the constants plus the user's own fields, keys sorted
    alphabetically as Douyin sends them."""
    obj = dict(USER_CONSTANTS)
    obj["badge_image_list"] = []
    obj["commerce_webcast_config_ids"] = []
    obj.update(
        authorization_info=authorization_info,
        avatar_thumb=avatar_thumb,
        city=city,
        display_id=display_id,
        fans_club={"data": fans_club_data},
        follow_info=follow_info,
        gender=gender,
        id=uid,
        id_str=str(uid),
        nickname=nickname,
        pay_grade=pay_grade,
        sec_uid=sec_uid,
        short_id=short_id,
    )
    return dict(sorted(obj.items()))

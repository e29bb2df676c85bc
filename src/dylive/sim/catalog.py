"""Static data of the simulator: the gift catalogue (douyin-protocol.md §7) and text pools.

Chinese strings are Douyin's own wording or realistic viewer content; they are data, not code.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Gift:
    """One catalogue entry as ``/webcast/gift/list/`` and GiftStruct carry it."""

    id: int
    name: str
    diamond_count: int
    combo: bool
    type: int
    weight: float  # relative frequency in the generated scenario

    def as_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "name": self.name,
            "diamond_count": self.diamond_count,
            "combo": self.combo,
            "type": self.type,
        }


#: The real catalogue subset of spec §7 (DBG gift.json, 2024-04). type 1 = streakable.
GIFTS: tuple[Gift, ...] = (
    Gift(463, "小心心", 1, True, 1, 30.0),
    Gift(2001, "玫瑰", 1, True, 1, 14.0),
    Gift(164, "抖音", 1, True, 1, 8.0),
    Gift(3992, "人气票", 1, True, 1, 6.0),
    Gift(3242, "入团卡", 1, False, 2, 3.0),
    Gift(685, "粉丝团灯牌", 1, False, 2, 2.0),
    Gift(2002, "大啤酒", 2, True, 1, 6.0),
    Gift(165, "棒棒糖", 9, True, 1, 5.0),
    Gift(860, "为你点亮", 9, True, 1, 4.0),
    Gift(2006, "鲜花", 10, True, 1, 4.0),
    Gift(3597, "加油鸭", 15, True, 1, 3.0),
    Gift(436, "Thuglife", 99, True, 1, 1.5),
    Gift(5633, "真爱玫瑰", 366, False, 2, 0.6),
    Gift(4353, "跑车", 1200, False, 2, 0.3),
    Gift(3729, "私人飞机", 3000, False, 2, 0.1),
    Gift(789, "嘉年华", 30000, False, 2, 0.03),
)

GIFTS_BY_ID: dict[int, Gift] = {g.id: g for g in GIFTS}

CHAT_LINES: tuple[str, ...] = (
    "想要长款连衣裙",
    "23号大衣还有吗可以回复一下吗",
    "我买了十多件,不想要不能退吗",
    "主播好漂亮",
    "这件有M码吗",
    "多少钱",
    "上链接",
    "已拍,什么时候发货",
    "身高160穿什么码",
    "来了来了",
    "666",
    "主播声音好好听",
    "能再试一下黑色的吗",
    "左边那件呢",
    "包邮吗",
    "有优惠券吗",
    "怎么领券",
    "已关注",
    "第一次来,支持一下",
    "哈哈哈哈",
    "这个颜色显白吗",
    "胖子能穿吗",
    "面料是纯棉的吗",
    "求返场",
    "主播晚上好",
    "刚下班赶来",
    "点赞点赞",
    "什么时候上新",
    "质量怎么样",
    "我上次买的很好看",
)

EMOJIS: tuple[tuple[int, str], ...] = (
    (1, "[比心]"),
    (2, "[赞]"),
    (3, "[玫瑰]"),
    (4, "[鼓掌]"),
    (5, "[爱心]"),
    (6, "[大笑]"),
)

NICK_PREFIXES: tuple[str, ...] = (
    "若他",
    "妞儿小念",
    "娥子",
    "L@",
    "☀ 太阳 Angel",
    "安好…",
    "一清",
    "小鱼儿",
    "晴天",
    "momo",
    "阿杰",
    "木子",
    "糖糖",
    "大白",
    "Lucky",
    "小可爱",
    "追风少年",
    "静待花开",
    "橘子汽水",
    "半夏",
)

#: Methods that the "unknown_methods" fault uses: real Douyin names outside our decoder table.
UNKNOWN_METHODS: tuple[str, ...] = (
    "WebcastNotifyEffectMessage",
    "WebcastLightGiftMessage",
    "WebcastInRoomBannerMessage",
    "WebcastHotChatMessage",
    "WebcastProfitInteractionScoreMessage",
    "WebcastSimUnknownMessage",
)

ROOM_NOTICE = "欢迎来到直播间！抖音严禁未成年人直播或打赏。直播间内严禁出现违法违规、低俗色情、吸烟酗酒等内容，若有违反，平台有权对直播间进行处罚。"

"""What a gift is worth: diamonds (抖币), 音浪 and yuan.

Every Douyin gift has a price in diamonds (抖币, ``diamond_count`` in the gift catalogue and in
each GiftMessage's GiftStruct). The conversions used here, and why:

- **yuan per diamond = 0.1.** Douyin sells diamonds at 1 yuan = 10 抖币 on its recharge page
  (抖音充值, the in-app wallet), the price viewers pay. This is the gift's face value.
- **音浪 per diamond = 1.** A gift of N 抖币 credits the anchor N 音浪; 音浪 is the unit of the
  anchor's income and of the audience ranking (音浪榜 scores, ``exactly_score``). This 1:1 rule is
  how Douyin's help pages and the public explanations of the creator wallet describe it, and it is
  what the in-stream rankings show: a viewer's ranking score equals the 抖币 of their gifts.
- **Not applied:** the platform's share of 音浪 when the anchor withdraws (commonly described as
  about half, varying with agency contracts). Reports give gross figures; ``yuan`` is what viewers
  spent, not what the anchor receives.
"""

from __future__ import annotations

from typing import Any

YUAN_PER_DIAMOND = 0.1
YINLANG_PER_DIAMOND = 1

RATES_NOTE = (
    "1 yuan = 10 抖币 (Douyin's recharge price); a gift of N 抖币 credits the anchor N 音浪; "
    "gross face value, before the platform's share"
)


def yuan(diamonds: int) -> float:
    """Face value in yuan (2 decimals) of ``diamonds`` 抖币."""
    return round(diamonds * YUAN_PER_DIAMOND, 2)


def yinlang(diamonds: int) -> int:
    """音浪 credited to the anchor for ``diamonds`` 抖币."""
    return diamonds * YINLANG_PER_DIAMOND


def rates() -> dict[str, Any]:
    return {
        "yuan_per_diamond": YUAN_PER_DIAMOND,
        "yinlang_per_diamond": YINLANG_PER_DIAMOND,
        "note": RATES_NOTE,
    }

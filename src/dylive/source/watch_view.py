"""The rich live view of ``dylive watch``: chat, gifts with combo deltas, viewers, a status line."""

from __future__ import annotations

import time
from collections import deque

from rich.console import Group
from rich.live import Live
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from dylive.decode import (
    ChatEvent,
    ControlEvent,
    EmojiChatEvent,
    Event,
    GiftEvent,
    GiftLedger,
    LikeEvent,
    MemberEvent,
    RoomStatsEvent,
    RoomUserSeqEvent,
    SocialEvent,
)
from dylive.source.collector import Room
from dylive.source.gaps import GapEvent

CHAT_LINES = 18
GIFT_LINES = 10


class WatchState:
    """What the view shows; fed event by event (pure, testable)."""

    def __init__(self) -> None:
        self.chat: deque[Text] = deque(maxlen=CHAT_LINES)
        self.gifts: deque[Text] = deque(maxlen=GIFT_LINES)
        self.ledger = GiftLedger()
        self.viewers = ""
        self.likes = 0
        self.notes: deque[str] = deque(maxlen=3)

    def feed(self, event: Event | GapEvent) -> None:
        if isinstance(event, GapEvent):
            self.notes.append(f"gap {event.start_ms}..{event.end_ms}: {event.reason}")
        elif isinstance(event, ChatEvent):
            self._line(event.user.nickname, event.content, "cyan")
        elif isinstance(event, EmojiChatEvent):
            self._line(event.user.nickname, event.default_content or "[emoji]", "cyan")
        elif isinstance(event, GiftEvent):
            self._gift(event)
        elif isinstance(event, MemberEvent):
            self._line(event.user.nickname, "来了", "dim")
        elif isinstance(event, SocialEvent):
            self._line(
                event.user.nickname, "关注了主播" if event.action == 1 else "分享了直播间", "green"
            )
        elif isinstance(event, LikeEvent):
            self.likes = max(self.likes, event.total)
        elif isinstance(event, RoomUserSeqEvent):
            self.viewers = event.total_user_str or str(event.total)
        elif isinstance(event, RoomStatsEvent):
            self.viewers = event.display_long or self.viewers
        elif isinstance(event, ControlEvent) and event.ended:
            self.notes.append("live ended")

    def _line(self, who: str, what: str, style: str) -> None:
        line = Text()
        line.append(time.strftime("%H:%M:%S "), "dim")
        line.append(who or "?", style)
        line.append(": " + what)
        self.chat.append(line)

    def _gift(self, event: GiftEvent) -> None:
        delta = self.ledger.delta(event)
        if delta <= 0:
            return
        line = Text()
        line.append(event.user.nickname or "?", "magenta")
        line.append(f" +{delta} {event.gift_name or event.gift_id}")
        if event.repeat_count > 1:
            line.append(f" (combo {event.repeat_count})", "dim")
        self.gifts.append(line)

    def render(self, room: Room) -> Group:
        st = room.status()
        info = room.info
        title = f"{info.anchor_nickname} — {info.title}" if info else str(room.ident)
        status = Table.grid(expand=True)
        status.add_row(
            f"[bold]{title}[/]",
            f"viewers {self.viewers or '-'}  likes {self.likes}  gifts {self.ledger.total_gifts}",
            f"{st.state}/{st.transport or '-'}  {st.messages_per_s:.1f} msg/s  "
            f"reconnects {st.reconnects}  gaps {st.gaps}  dups {st.duplicates}",
        )
        parts: list[Panel | Table] = [
            status,
            Panel(Group(*self.chat), title="chat", height=CHAT_LINES + 2),
            Panel(Group(*self.gifts), title="gifts", height=GIFT_LINES + 2),
        ]
        if self.notes:
            parts.append(Panel("\n".join(self.notes), title="notes"))
        return Group(*parts)


async def run_view(room: Room) -> None:
    state = WatchState()
    with Live(state.render(room), refresh_per_second=4, screen=False) as live:
        last = 0.0
        async for event in room:
            state.feed(event)
            now = time.monotonic()
            if now - last > 0.2:
                live.update(state.render(room))
                last = now
        live.update(state.render(room))

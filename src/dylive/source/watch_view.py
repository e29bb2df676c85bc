"""The rich live view of ``dylive watch``: chat, gifts with combo deltas, the 音浪榜 ranking,
viewers and likes, a status line.

The view is sized to the terminal (a frame taller than the screen cannot be redrawn in place and
leaves stale copies above it), and log records go through the view's console while it runs (a
line written straight to stderr would push the frame down and leave the previous one behind).
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections import deque
from collections.abc import Iterator

from rich.console import Console, Group
from rich.live import Live
from rich.logging import RichHandler
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from dylive.decode import (
    ChatEvent,
    ControlEvent,
    EmojiChatEvent,
    Event,
    GiftEvent,
    LikeEvent,
    MemberEvent,
    RankEntry,
    RoomRankEvent,
    RoomStatsEvent,
    RoomUserSeqEvent,
    SocialEvent,
)
from dylive.source.collector import Room
from dylive.source.gaps import GapEvent
from dylive.source.options import RoomStatus

RANK_LINES = 5  # 音浪榜 entries shown
MIN_LINES = 3  # smallest chat / gift panel body
HEADER_LINES = 2  # the room and its figures; the connection's state


class WatchState:
    """What the view shows; fed event by event (pure, testable)."""

    def __init__(self) -> None:
        self.chat: deque[Text] = deque(maxlen=100)
        self.gifts: deque[Text] = deque(maxlen=100)
        self.ranks: tuple[RankEntry, ...] = ()
        self.gift_total = 0
        self.viewers: int | None = None
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
        else:
            self._room(event)

    def _room(self, event: Event) -> None:
        if isinstance(event, RoomUserSeqEvent):
            self.viewers = event.total or self.viewers
            self.ranks = event.ranks or self.ranks
        elif isinstance(event, RoomStatsEvent):
            self.viewers = event.display_value or event.total or self.viewers
        elif isinstance(event, RoomRankEvent):
            self.ranks = event.ranks or self.ranks
        elif isinstance(event, ControlEvent) and event.ended:
            self.notes.append("live ended")

    def _line(self, who: str, what: str, style: str) -> None:
        line = Text(no_wrap=True, overflow="ellipsis")
        line.append(time.strftime("%H:%M:%S "), "dim")
        line.append(who or "?", style)
        line.append(": " + what)
        self.chat.append(line)

    def _gift(self, event: GiftEvent) -> None:
        delta = event.delta or 0  # the Room's gift ledger: never double-counts a combo
        if delta <= 0:
            return
        self.gift_total += delta
        line = Text(no_wrap=True, overflow="ellipsis")
        line.append(event.user.nickname or "?", "magenta")
        line.append(f" +{delta} {event.gift_name or event.gift_id}")
        if event.repeat_count > 1:
            line.append(f" (combo {event.repeat_count})", "dim")
        self.gifts.append(line)

    def header(self, room: Room) -> Table:
        """Two lines that never wrap (cut with … on a narrow terminal): the room and its
        figures, then the connection's state."""
        st = room.status()
        info = room.info
        title = f"{info.anchor_nickname} — {info.title}" if info else str(room.ident)
        viewers = "-" if self.viewers is None else f"{self.viewers:,}"
        figures = f"viewers {viewers}  likes {self.likes:,}  gifts {self.gift_total:,}"
        first = Table.grid(expand=True, padding=(0, 1))
        first.add_column(ratio=1, no_wrap=True, overflow="ellipsis")
        first.add_column(justify="right", no_wrap=True)
        first.add_row(Text(title, style="bold", no_wrap=True, overflow="ellipsis"), figures)
        status = Table.grid(expand=True)
        status.add_row(first)
        status.add_row(Text(state_line(st), style="dim", no_wrap=True, overflow="ellipsis"))
        return status

    def ranking(self) -> Panel:
        lines = [
            Text.assemble(
                (f"{r.rank or i:>2} ", "bold"),
                (r.user.nickname or str(r.user.uid), "magenta"),
                f"  {r.score_str or format(r.score, ',')}",
                no_wrap=True,
                overflow="ellipsis",
            )
            for i, r in enumerate(self.ranks[:RANK_LINES], start=1)
        ]
        body = Group(*lines) if lines else Text("-", style="dim")
        return Panel(body, title="音浪榜", height=RANK_LINES + 2)

    def render(self, room: Room, height: int = 40) -> Group:
        """The whole frame, at most ``height`` lines tall (the terminal's height)."""
        notes = Panel("\n".join(self.notes), title="notes") if self.notes else None
        body = max(height - HEADER_LINES - (len(self.notes) + 2 if notes else 0), 2 * MIN_LINES + 4)
        gift_lines = max(body - (RANK_LINES + 2) - 2, MIN_LINES)
        columns = Table.grid(expand=True)
        columns.add_column(ratio=3)
        columns.add_column(ratio=2)
        columns.add_row(
            Panel(Group(*list(self.chat)[-(body - 2) :]), title="chat", height=body),
            Group(
                self.ranking(),
                Panel(Group(*list(self.gifts)[-gift_lines:]), title="gifts", height=gift_lines + 2),
            ),
        )
        parts: list[Panel | Table] = [self.header(room), columns]
        if notes is not None:
            parts.append(notes)
        return Group(*parts)


def state_line(st: RoomStatus) -> str:
    """The connection's state in words (``waiting`` says what it waits for)."""
    if st.state == "waiting":
        state = "waiting for the next broadcast (not live)"
    elif st.state == "resolving":
        state = "resolving the room"
    else:
        state = f"{st.state}/{st.transport or '-'}"
    return (
        f"{state}  {st.messages_per_s:.1f} msg/s  reconnects {st.reconnects}  "
        f"gaps {st.gaps}  dups {st.duplicates}"
    )


def plain_line(event: Event | GapEvent) -> str | None:
    """One line of text for an event worth a line (chat, gifts, joins, follows, gaps, live end)
    when the output is not a terminal; None for the others."""
    stamp = time.strftime("%H:%M:%S")
    if isinstance(event, GapEvent):
        return f"{stamp} [gap {event.start_ms}..{event.end_ms}: {event.reason}]"
    if isinstance(event, ChatEvent):
        return f"{stamp} {event.user.nickname or '?'}: {event.content}"
    if isinstance(event, EmojiChatEvent):
        return f"{stamp} {event.user.nickname or '?'}: {event.default_content or '[emoji]'}"
    if isinstance(event, GiftEvent) and (event.delta or 0) > 0:
        return f"{stamp} {event.user.nickname or '?'} +{event.delta} {event.gift_name}"
    if isinstance(event, MemberEvent):
        return f"{stamp} {event.user.nickname or '?'} 来了"
    if isinstance(event, SocialEvent):
        action = "关注了主播" if event.action == 1 else "分享了直播间"
        return f"{stamp} {event.user.nickname or '?'} {action}"
    if isinstance(event, ControlEvent) and event.ended:
        return f"{stamp} [live ended]"
    return None


@contextlib.contextmanager
def logs_through(console: Console) -> Iterator[None]:
    """Route every log record through ``console`` (above the live frame) while it is shown."""
    root = logging.getLogger()
    saved = root.handlers[:]
    handler = RichHandler(console=console, show_path=False, rich_tracebacks=False)
    handler.setLevel(max(logging.WARNING, root.level))  # the status line shows the rest
    root.handlers[:] = [handler]
    try:
        yield
    finally:
        root.handlers[:] = saved


async def run_view(room: Room, console: Console | None = None) -> None:
    state = WatchState()
    console = console or Console()

    def frame() -> Group:
        return state.render(room, console.size.height)

    # get_renderable: every refresh draws the current state, so the status line moves on while
    # no message arrives (waiting for a broadcast, reconnecting)
    live = Live(get_renderable=frame, console=console, refresh_per_second=4, screen=False)
    with logs_through(console), live:
        async for event in room:
            state.feed(event)
        live.refresh()

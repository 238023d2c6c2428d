"""The pieces of the replay view: one card per step, the case facts and conflicts, the header line."""

from __future__ import annotations

from bisect import bisect_right

from rich.console import Console
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.widget import Widget
from textual.widgets import Static

from transcripts.run_model import main_model
from tui.app.render import literal, speaker_style, truncate, wrap_hanging
from tui.app.render_events import case_fact_rows, conflict_rows, render_step
from tui.app.replay_model import ReplayModel, ReplayState

__all__ = ["DeliberationLog", "ReplayHeader", "SidePanel"]


def _render_lines(console: Console, text: Text, width: int, style: Style) -> list[list[Segment]]:
    """`text` wrapped to `width` cells (hanging indents kept), each line padded to `width`."""
    lines = wrap_hanging(console, text, width)
    joined = Text("\n").join(lines)
    joined.no_wrap = True  # already wrapped: only pad (and crop anything wider, which nothing is)
    options = console.options.update(width=width, no_wrap=True, overflow="crop", height=None)
    return console.render_lines(joined, options, style=style, pad=True)


def _set_virtual_size(widget: ScrollView, size: Size) -> None:
    """Set a line-API widget's scrollable size without asking for a new layout of the screen.

    `virtual_size` is a layout reactive: assigning it re-arranges every widget and repaints the
    whole screen. The widget's own box does not change when its content grows, so only its
    scrollbar needs updating; a new layout happens only if a scrollbar has to appear or go.
    """
    if size != widget.virtual_size:
        widget.set_reactive(Widget.virtual_size, size)
        widget._scroll_update(size)  # scrollbar window and position; clamps the scroll offset


class DeliberationLog(ScrollView, can_focus=False):
    """The steps shown so far, newest last, drawn with the line API (no widget per step).

    Stepping forward or back only changes how many cards are drawn; each card is wrapped once per
    width and cached, so a step costs at most one wrap and a repaint of the visible lines. The
    scrollbar is always shown, so a growing log never changes the layout of the screen.
    """

    COMPONENT_CLASSES = {"deliberation-log--current"}
    DEFAULT_CSS = """
    DeliberationLog { overflow-x: hidden; overflow-y: scroll; }
    DeliberationLog > .deliberation-log--current { background: $boost; }
    """

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.model: ReplayModel | None = None
        self.shown = 0  # cards drawn: steps 0..shown-1
        self.current = -1
        self._texts: dict[int, Text] = {}
        self._strips: dict[tuple[int, int, bool], list[Strip]] = {}
        self._offsets: list[int] = []  # first line of each drawn card
        self._total = 0
        self._layout_width = 0

    # what to show (attributes down) ---------------------------------------------------------------
    def show_until(self, model: ReplayModel, index: int) -> int:
        """Draw steps 0..index with `index` highlighted; returns that card's first line."""
        if model is not self.model:
            self.model = model
            self._texts.clear()
            self._strips.clear()
        self.shown = max(0, min(index + 1, len(model)))
        self.current = index
        self._relayout()
        self.refresh()
        return self.card_top(index)

    def text_of(self, index: int) -> Text:
        assert self.model is not None
        text = self._texts.get(index)
        if text is None:
            text = self._texts[index] = render_step(self.model, self.model.steps[index])
        return text

    def card_top(self, index: int) -> int:
        return self._offsets[index] if 0 <= index < len(self._offsets) else 0

    # drawing ------------------------------------------------------------------------------------
    def _width(self) -> int:
        return max(self.scrollable_content_region.width, 10)

    def _card(self, index: int, width: int, current: bool) -> list[Strip]:
        key = (index, width, current)
        strips = self._strips.get(key)
        if strips is not None:
            return strips
        assert self.model is not None
        step = self.model.steps[index]
        member = getattr(step.event, "member", None) or ("chair" if step.kind in ("chair", "resolution") else None)
        bar = Style.parse(speaker_style(member).replace("bold ", "")) if member else Style(color="grey50")
        base = self.rich_style
        if current:
            base = base + self.get_component_rich_style("deliberation-log--current")
        lines = _render_lines(self.app.console, self.text_of(index), max(width - 3, 8), base)
        bar_segment, space = Segment("\u258c", bar + Style(bgcolor=base.bgcolor)), Segment(" ", base)
        strips = [Strip([bar_segment, space, *line, space]).crop_extend(0, width, base) for line in lines]
        strips.append(Strip.blank(width, self.rich_style))
        self._strips[key] = strips
        return strips

    def _relayout(self) -> None:
        width = self._width()
        offsets, total = [], 0
        for i in range(self.shown):
            offsets.append(total)
            total += len(self._card(i, width, i == self.current))
        self._offsets, self._total = offsets, total
        self._layout_width = width
        _set_virtual_size(self, Size(width, total))

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._strips.clear()  # the theme changed: colours are baked into the cached lines

    def on_resize(self) -> None:
        self._strips.clear()
        if self.model is not None:
            self._relayout()
            self.scroll_to(y=self.card_top(self.current), animate=False)  # re-wrapped: keep the step in view
            self.refresh()

    def render_line(self, y: int) -> Strip:
        width = self._width()
        if width != self._layout_width and self.model is not None:
            self._strips.clear()
            self._relayout()  # the width changed since the cards were measured
        line = self.scroll_offset.y + y
        if line >= self._total or not self._offsets:
            return Strip.blank(width, self.rich_style)
        index = bisect_right(self._offsets, line) - 1
        strips = self._card(index, width, index == self.current)
        offset = line - self._offsets[index]
        if not 0 <= offset < len(strips):
            return Strip.blank(width, self.rich_style)
        return strips[offset]


class SidePanel(ScrollView, can_focus=False):
    """The case facts and the conflicts, each in a rounded box, drawn with the line API.

    Each fact and each conflict is a row, wrapped once per width and cached with its text. A step
    builds the rows' texts (cheap), wraps only rows it has not seen before and repaints only the
    lines that changed; the panel's box never changes size, so a step never re-lays out the screen.
    """

    COMPONENT_CLASSES = {"side-panel--border", "side-panel--title"}
    DEFAULT_CSS = """
    SidePanel { overflow-x: hidden; overflow-y: auto; }
    SidePanel > .side-panel--border { color: $primary-darken-1; }
    SidePanel > .side-panel--title { color: $text-muted; }
    """
    TITLES = ("Case facts", "Conflicts")
    GAPS = (0, 1)  # blank lines between rows: facts are dense, conflicts are blocks
    ROW_CACHE = 512  # wrapped rows kept (each fact and conflict has a few looks over a run)

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.sections: list[list[Text]] = [[] for _ in self.TITLES]
        self._rows: dict[tuple[object, ...], list[Strip]] = {}  # a row's text -> its lines, at _built_width
        self._frames: dict[str, Strip] = {}
        self._lines: list[Strip] = []
        self._built_width = 0

    def show(self, model: ReplayModel, state: ReplayState) -> None:
        sections = [case_fact_rows(model, state), conflict_rows(model, state)]
        if sections == self.sections and self._built_width == self._width():
            return  # nothing changed: no repaint at all
        self.sections = sections
        if not self.size.width:  # hidden (narrow terminal): wrapped when it is shown
            self._built_width = 0
            return
        before = self._lines
        self._build()
        after = self._lines
        if len(before) != len(after):
            first = next((y for y, (a, b) in enumerate(zip(before, after)) if a is not b), min(len(before), len(after)))
            self.refresh_lines(first, max(len(before), len(after)) - first)
            return
        y = 0
        while y < len(after):  # repaint runs of changed lines (unchanged rows keep their Strip objects)
            if after[y] is before[y]:
                y += 1
                continue
            start = y
            while y < len(after) and after[y] is not before[y]:
                y += 1
            self.refresh_lines(start, y - start)

    def plain_lines(self) -> list[str]:
        """What the panel shows, one string per line (for tests)."""
        return ["".join(segment.text for segment in strip).rstrip() for strip in self._lines]

    # drawing ------------------------------------------------------------------------------------
    def _width(self) -> int:
        return max(self.scrollable_content_region.width, 12)

    def _styles(self) -> tuple[Style, Style, Style]:
        base = self.rich_style
        border = base + self.get_component_rich_style("side-panel--border")
        title = base + self.get_component_rich_style("side-panel--title")
        return base, border, title

    def _frame(self, kind: str, width: int, title: str = "") -> Strip:
        key = f"{kind}:{title}"
        strip = self._frames.get(key)
        if strip is None:
            base, border, title_style = self._styles()
            fill = max(width - 2, 0)
            if kind == "top":
                label = f" {truncate(title, max(fill - 3, 0))} " if title and fill > 4 else ""
                segments = [Segment("╭─" if fill else "╭", border), Segment(label, title_style),
                            Segment("─" * max(fill - 1 - len(label), 0), border), Segment("╮", border)]
            elif kind == "bottom":
                segments = [Segment("╰" + "─" * fill + "╯", border)]
            else:  # a blank line inside a box
                segments = [Segment("│", border), Segment(" " * fill, base), Segment("│", border)]
            strip = self._frames[key] = Strip(segments).crop_extend(0, width, base)
        return strip

    def _row(self, text: Text, width: int) -> list[Strip]:
        key = (text.plain, tuple(text.spans), str(text.style))  # the same row looks the same
        strips = self._rows.get(key)
        if strips is not None:
            self._rows[key] = self._rows.pop(key)  # most recently used last
            return strips
        base, border, _ = self._styles()
        inner = max(width - 4, 4)
        edge, pad = Segment("│", border), Segment(" ", base)
        strips = [
            Strip([edge, pad, *line, pad, edge]).crop_extend(0, width, base)
            for line in _render_lines(self.app.console, text, inner, base)
        ]
        self._rows[key] = strips
        if len(self._rows) > self.ROW_CACHE:
            del self._rows[next(iter(self._rows))]  # the least recently used
        return strips

    def _build(self) -> None:
        width = self._width()
        if width != self._built_width:
            self._rows.clear()
            self._frames.clear()
            self._built_width = width
        lines: list[Strip] = []
        for section, (title, rows) in enumerate(zip(self.TITLES, self.sections)):
            lines.append(self._frame("top", width, title))
            for index, text in enumerate(rows):
                if index and self.GAPS[section]:
                    lines.extend([self._frame("blank", width)] * self.GAPS[section])
                lines.extend(self._row(text, width))
            lines.append(self._frame("bottom", width))
        self._lines = lines
        _set_virtual_size(self, Size(width, len(lines)))

    def on_resize(self) -> None:
        self._build()
        self.refresh()

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._rows.clear()  # the theme changed: colours are baked into the cached lines
        self._frames.clear()
        self._built_width = 0  # rebuilt on the next paint

    def render_line(self, y: int) -> Strip:
        width = self._width()
        if width != self._built_width:
            self._build()  # a scrollbar came or went since the rows were wrapped
        line = self.scroll_offset.y + y
        if 0 <= line < len(self._lines):
            return self._lines[line]
        return Strip.blank(width, self.rich_style)


class ReplayHeader(Static):
    """Two lines: the case and team; where we are, playing or paused, at what speed."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__("", markup=False, **kwargs)  # type: ignore[arg-type]

    def show(
        self,
        model: ReplayModel,
        index: int,
        *,
        playing: bool,
        speed: float,
        live: str | None = None,
        width: int = 80,
    ) -> None:
        text = Text()
        started = model.started
        title = model.scenario.get("title") if started else None
        fallback = "starting the run…" if live in ("starting", "live") else "unreadable transcript"
        text.append(truncate(title or (started.scenario_id if started else fallback), max(width - 2, 10)), style="bold")
        text.append("\n")
        if live:
            text.append(f" ● {literal(live, one_line=True)} ", style="bold white on red" if live == "live" else "bold reverse")
            text.append(" ")
        else:
            text.append(" ▶ playing " if playing else " ❚❚ paused ", style="bold reverse green" if playing else "bold reverse")
            text.append(" ")
        text.append(f"{speed:g}× ", style="bold")
        steps = len(model)
        step = model.steps[index] if 0 <= index < steps else None
        where = "case" if step is None or step.kind == "case" else (
            {"resolution": "resolution", "end": "end", "score": "scorecard"}.get(step.kind, f"round {step.round}")
        )
        rounds = model.rounds
        text.append(f" {where}", style="bold cyan")
        text.append(f" · step {min(index + 1, steps)}/{steps}", style="dim")
        if rounds:
            text.append(f" · {len(rounds)} round{'s' if len(rounds) != 1 else ''}", style="dim")
        if started:
            info = f"{started.team_id} · {started.protocol} · {main_model(started)}"
            if getattr(started, "disclosure", "options") != "options":
                info += f" · disclosure {started.disclosure}"
            room = width - len(text.plain.split("\n")[-1]) - 5
            if room >= 12:
                text.append("  ")
                text.append(truncate(info, room), style="dim")
        self.update(text, layout=False)  # always two lines


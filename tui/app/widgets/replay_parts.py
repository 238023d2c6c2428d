"""The pieces of the replay view: one card per step, the case facts, the conflicts, the header line."""

from __future__ import annotations

from bisect import bisect_right

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.widgets import Static

from tui.app.render import literal, speaker_style, truncate
from tui.app.render_events import render_case_panel, render_conflicts_panel, render_step
from tui.app.replay_model import ReplayModel, ReplayState

__all__ = ["CasePanel", "ConflictsPanel", "DeliberationLog", "ReplayHeader"]


class DeliberationLog(ScrollView, can_focus=False):
    """The steps shown so far, newest last, drawn with the line API (no widget per step).

    Stepping forward or back only changes how many cards are drawn; each card is wrapped once per
    width and cached, so a step costs at most one wrap and a repaint of the visible lines.
    """

    COMPONENT_CLASSES = {"deliberation-log--current"}
    DEFAULT_CSS = """
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
        console = self.app.console
        options = console.options.update_width(max(width - 3, 8))
        lines = console.render_lines(self.text_of(index), options, style=base, pad=True)
        strips = [Strip([Segment("\u258c", bar + Style(bgcolor=base.bgcolor)), Segment(" ", base), *line, Segment(" ", base)]) for line in lines]
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
        self.virtual_size = Size(width, total)

    def on_resize(self) -> None:
        self._strips.clear()
        if self.model is not None:
            self._relayout()
            self.refresh()

    def render_line(self, y: int) -> Strip:
        width = self._width()
        if width != self._layout_width and self.model is not None:
            self._relayout()  # the width changed since the cards were measured
        line = self.scroll_offset.y + y
        if line >= self._total or not self._offsets:
            return Strip.blank(width, self.rich_style)
        index = bisect_right(self._offsets, line) - 1
        strips = self._card(index, width, index == self.current)
        offset = line - self._offsets[index]
        if not 0 <= offset < len(strips):
            return Strip.blank(width, self.rich_style)
        return strips[offset].crop_extend(0, width, self.rich_style)


def _update_panel(panel: Static, text: Text) -> None:
    """Update a panel; ask for a new layout only when its height changes (a step must stay cheap)."""
    if text == getattr(panel, "_text", None) and panel.size.width == getattr(panel, "_width", None):
        return  # nothing changed: no repaint at all
    panel._text, panel._width = text, panel.size.width  # type: ignore[attr-defined]
    width = max(panel.content_region.width, 1) if panel.size.width else 0
    height = len(text.wrap(panel.app.console, width)) if width else -1
    previous = getattr(panel, "_lines", None)
    panel._lines = height  # type: ignore[attr-defined]
    panel.update(text, layout=height != previous or height < 0)


class CasePanel(Static):
    def __init__(self, **kwargs: object) -> None:
        super().__init__("", markup=False, **kwargs)  # type: ignore[arg-type]
        self.border_title = "Case facts"

    def show(self, model: ReplayModel, state: ReplayState) -> None:
        _update_panel(self, render_case_panel(model, state))


class ConflictsPanel(Static):
    def __init__(self, **kwargs: object) -> None:
        super().__init__("", markup=False, **kwargs)  # type: ignore[arg-type]
        self.border_title = "Conflicts"

    def show(self, model: ReplayModel, state: ReplayState) -> None:
        _update_panel(self, render_conflicts_panel(model, state))


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
            info = f"{started.team_id} · {started.protocol} · {_main_model(started.models)}"
            room = width - len(text.plain.split("\n")[-1]) - 5
            if room >= 12:
                text.append("  ")
                text.append(truncate(info, room), style="dim")
        self.update(text, layout=False)  # always two lines


def _main_model(models: dict[str, str]) -> str:
    values = list(models.values())
    return max(set(values), key=values.count) if values else ""

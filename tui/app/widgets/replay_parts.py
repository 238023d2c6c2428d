"""The pieces of the replay view: one card per step, the case facts, the conflicts, the header line."""

from __future__ import annotations

from rich.text import Text
from textual.containers import VerticalScroll
from textual.widgets import Static

from tui.app.render import literal, speaker_style, truncate
from tui.app.render_events import render_case_panel, render_conflicts_panel, render_step
from tui.app.replay_model import ReplayModel, ReplayState, Step

__all__ = ["CasePanel", "ConflictsPanel", "DeliberationLog", "EventCard", "ReplayHeader"]


class EventCard(Static):
    """One step of the deliberation, rendered literally."""

    def __init__(self, model: ReplayModel, step: Step) -> None:
        super().__init__(render_step(model, step), markup=False, classes=f"card -{step.kind}")
        self.step_index = step.index
        member = getattr(step.event, "member", None) or ("chair" if step.kind in ("chair", "resolution") else None)
        if member:
            # the card's left edge takes the speaker's colour
            self.styles.border_left = ("thick", speaker_style(member).replace("bold ", ""))


class DeliberationLog(VerticalScroll):
    """The steps shown so far, newest last; knows nothing about playback."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.can_focus = True

    def cards(self) -> list[EventCard]:
        return list(self.query_children(EventCard))

    async def show_until(self, model: ReplayModel, index: int) -> EventCard | None:
        """Make the log show steps 0..index (mounting or removing only the difference)."""
        cards = self.cards()
        shown = len(cards)
        want = index + 1
        if want < shown:
            await self.remove_children(cards[want:])
            cards = cards[:want]
        elif want > shown:
            new = [EventCard(model, step) for step in model.steps[shown:want]]
            await self.mount_all(new)
            cards.extend(new)
        for card in self.query_children(".-current"):
            card.remove_class("-current")
        if cards:
            cards[-1].add_class("-current")
        return cards[-1] if cards else None


class CasePanel(Static):
    def __init__(self, **kwargs: object) -> None:
        super().__init__("", markup=False, **kwargs)  # type: ignore[arg-type]
        self.border_title = "Case facts"

    def show(self, model: ReplayModel, state: ReplayState) -> None:
        self.update(render_case_panel(model, state))


class ConflictsPanel(Static):
    def __init__(self, **kwargs: object) -> None:
        super().__init__("", markup=False, **kwargs)  # type: ignore[arg-type]
        self.border_title = "Conflicts"

    def show(self, model: ReplayModel, state: ReplayState) -> None:
        self.update(render_conflicts_panel(model, state))


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
        text.append(truncate(title or (started.scenario_id if started else "unreadable transcript"), max(width - 2, 10)), style="bold")
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
        text.append(f" · step {index + 1}/{steps}", style="dim")
        if rounds:
            text.append(f" · {len(rounds)} round{'s' if len(rounds) != 1 else ''}", style="dim")
        if started:
            info = f"  {started.team_id} · {started.protocol} · {_main_model(started.models)}"
            text.append(truncate(info, max(width - len(text.plain.split(chr(10))[-1]) - 2, 0)), style="dim")
        self.update(text)


def _main_model(models: dict[str, str]) -> str:
    values = list(models.values())
    return max(set(values), key=values.count) if values else ""

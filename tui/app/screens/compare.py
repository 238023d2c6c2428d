"""Two runs side by side, and the team summary of a batch (mean per dimension per team)."""

from __future__ import annotations

from pathlib import Path

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Static

from scenarios.model import DIMENSIONS
from transcripts.index import RunFilter, RunIndex, TeamSummary
from transcripts.store import read_transcript
from tui.app.compare_model import ConflictComparison, RunSide, compare_runs
from tui.app.render import fmt_score, hbar, literal, score_style, speaker_label, truncate, verdict_style

__all__ = ["CompareScreen", "TeamSummaryScreen"]

TEAM_STYLES = ("#5fafff", "#ffaf5f", "#5fd787", "#d787ff", "#ff5f87", "#d7d75f", "#00d7d7", "#af87ff")


def _choice(option: str | None, verdict: str | None) -> Text:
    if option is None:
        return Text("no choice", style="dim")
    text = Text(literal(option, one_line=True), style=verdict_style(verdict))
    text.append(f" ({verdict or '?'})", style=verdict_style(verdict))
    return text


class CompareScreen(Screen[None]):
    CSS_PATH = "compare.tcss"
    BINDINGS = [Binding("escape", "back", "Back"), Binding("a", "open('a')", "Replay A"), Binding("b", "open('b')", "Replay B")]

    def __init__(self, path_a: Path, path_b: Path) -> None:
        super().__init__()
        self.paths = (Path(path_a), Path(path_b))
        self.result: tuple[RunSide, RunSide, list[ConflictComparison]] | None = None

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="compare-body"):
            yield Static(Text("Reading both transcripts…", style="dim"), id="compare", markup=False)
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self._load()

    @work(thread=True, exclusive=True)
    def _load(self) -> None:
        a, b = (read_transcript(p) for p in self.paths)
        result = compare_runs(a, b)
        self.app.call_from_thread(self._show, result)

    def _show(self, result: tuple[RunSide, RunSide, list[ConflictComparison]]) -> None:
        self.result = result
        self.query_one("#compare", Static).update(self.render_comparison(self.size.width))
        for side in result[:2]:
            for problem in side.transcript.problems[:2]:
                self.notify(literal(problem), severity="warning", markup=False)

    def on_resize(self) -> None:
        if self.result is not None:
            self.query_one("#compare", Static).update(self.render_comparison(self.size.width))

    def render_comparison(self, width: int) -> Group:
        assert self.result is not None
        a, b, conflicts = self.result
        parts: list[object] = []
        sa, sb = a.transcript.started, b.transcript.started
        title = Text("Compare  ", style="bold reverse")
        scenario = (a.model.scenario.get("title") or (sa.scenario_id if sa else "?")) if sa else "?"
        title.append(" " + truncate(scenario, max(width - 14, 10)), style="bold")
        if sa and sb and sa.scenario_id != sb.scenario_id:
            title.append(f"\n(different cases: {literal(sa.scenario_id)} / {literal(sb.scenario_id)})", style="yellow")
        parts.append(title)

        narrow = width < 100
        bar = 10 if narrow else 20
        table = Table(expand=True, box=None, padding=(0, 1), show_edge=False, header_style="bold")
        table.add_column("", ratio=2 if not narrow else 3, no_wrap=False)
        table.add_column(Text("A  " + a.label, style="bold #5fafff"), ratio=3)
        table.add_column(Text("B  " + b.label, style="bold #ffaf5f"), ratio=3)
        table.add_column("", width=2)
        status = lambda s: Text(s.transcript.status, style="green" if s.transcript.status == "completed" else "yellow")  # noqa: E731
        table.add_row(Text("status", style="dim"), status(a), status(b), Text(""))
        overall = lambda s: Text(fmt_score(s.overall).strip(), style="bold " + score_style(s.overall))  # noqa: E731
        table.add_row(Text("overall", style="bold"), overall(a), overall(b), Text(""))
        parts.append(Text(""))
        parts.append(table)

        parts.append(Text("\nConflicts: the choice in the resolution", style="bold underline"))
        ctable = Table(expand=True, box=None, padding=(0, 1), show_edge=False, show_header=False)
        ctable.add_column(ratio=2 if not narrow else 3)
        ctable.add_column(ratio=3)
        ctable.add_column(ratio=3)
        ctable.add_column(width=2)
        for comp in conflicts:
            head = Text(literal(comp.id, one_line=True), style="bold magenta")
            head.append(" " + literal(comp.title, one_line=True), style="dim")
            mark = Text("=", style="green") if comp.same else Text("≠", style="bold red")
            ctable.add_row(head, _choice(comp.a_option, comp.a_verdict), _choice(comp.b_option, comp.b_verdict), mark)
            raised = []
            for side in (a, b):
                who = side.raised.get(comp.id)
                raised.append(Text(f"raised R{who[1]} by {speaker_label(who[0], side.model.team)}", style="dim") if who else Text("never raised", style="red"))
            ctable.add_row(Text(""), *raised, Text(""))
        if not conflicts:
            ctable.add_row(Text("This case has no hidden conflicts.", style="dim"), Text(""), Text(""), Text(""))
        parts.append(ctable)

        diverged = [c for c in conflicts if c.diverged_round is not None]
        parts.append(Text("\nWhere they diverged", style="bold underline"))
        if not diverged:
            parts.append(Text("The councils favoured the same options in every round.", style="dim"))
        for comp in diverged:
            line = Text(f"{literal(comp.id)} ", style="bold magenta")
            line.append(f"round {comp.diverged_round}: ")
            line.append("A favoured ", style="dim")
            line.append(", ".join(literal(o) for o in comp.a_favoured) or "nothing", style="#5fafff")
            line.append("; B favoured ", style="dim")
            line.append(", ".join(literal(o) for o in comp.b_favoured) or "nothing", style="#ffaf5f")
            parts.append(line)

        parts.append(Text("\nScores per dimension", style="bold underline"))
        stable = Table(expand=True, box=None, padding=(0, 1), show_edge=False, show_header=False)
        stable.add_column(ratio=2 if not narrow else 3)
        stable.add_column(ratio=3)
        stable.add_column(ratio=3)
        stable.add_column(width=5, justify="right")
        for dim in DIMENSIONS:
            cells = []
            for side in (a, b):
                score = side.scores.get(dim)
                cell = hbar(score, bar)
                cell.append(f" {fmt_score(score)}", style=score_style(score))
                cells.append(cell)
            sa_score, sb_score = a.scores.get(dim), b.scores.get(dim)
            delta = Text("")
            if sa_score is not None and sb_score is not None:
                diff = sb_score - sa_score
                delta = Text(f"{diff:+.0f}", style="green" if diff > 0 else ("red" if diff < 0 else "dim"))
            stable.add_row(Text(dim), *cells, delta)
        parts.append(stable)

        parts.append(Text("\nFinal recommendations", style="bold underline"))
        rtable = Table(expand=True, box=None, padding=(0, 1), show_edge=False, show_header=False)
        rtable.add_column(ratio=1)
        rtable.add_column(ratio=1)
        rtable.add_row(
            Text(literal(a.recommendation) or "no resolution", style="#5fafff"),
            Text(literal(b.recommendation) or "no resolution", style="#ffaf5f"),
        )
        parts.append(rtable)

        parts.append(Text("\nProcess", style="bold underline"))
        ptable = Table(expand=True, box=None, padding=(0, 1), show_edge=False, show_header=False)
        ptable.add_column(ratio=2 if not narrow else 3)
        ptable.add_column(ratio=3)
        ptable.add_column(ratio=3)
        ptable.add_column(width=2)
        ends = [s.transcript.ended for s in (a, b)]
        ptable.add_row(Text("turns · rounds", style="dim"), *[Text(f"{e.turns} · {e.rounds}" if e else "?") for e in ends], Text(""))
        ptable.add_row(
            Text("tokens · cost", style="dim"),
            *[Text(f"{e.usage.prompt_tokens + e.usage.completion_tokens:,} · ${e.usage.cost_usd:.4f}" if e else "?") for e in ends],
            Text(""),
        )
        parts.append(ptable)
        return Group(*parts)  # type: ignore[arg-type]

    def action_back(self) -> None:
        self.app.pop_screen()

    def action_open(self, which: str) -> None:
        from tui.app.screens.replay import ReplayScreen

        self.app.push_screen(ReplayScreen(self.paths[0 if which == "a" else 1]))


class TeamSummaryScreen(Screen[None]):
    """Mean score per dimension per team as bars, over the runs matching the filters (a batch)."""

    CSS_PATH = "compare.tcss"
    BINDINGS = [Binding("escape", "back", "Back"), Binding("b", "next_batch", "Next batch")]

    def __init__(self, index: RunIndex, filters: RunFilter) -> None:
        super().__init__()
        self.index = index
        self.filters = filters
        self.batches: list[str | None] = [None]
        self.summary: list[TeamSummary] | None = None

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="summary-body"):
            yield Static(Text("Summarising…", style="dim"), id="summary", markup=False)
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self._load()

    @work(thread=True, exclusive=True)
    def _load(self) -> None:
        summary = self.index.summary("team", self.filters)
        batches = [None, *self.index.distinct("batch", RunFilter(**{**self.filters.__dict__, "batch": None}))]
        self.app.call_from_thread(self._show, summary, batches)

    def _show(self, summary: list[TeamSummary], batches: list[str | None]) -> None:
        self.summary = [s for s in summary if s.key]
        self.batches = batches
        self.query_one("#summary", Static).update(self.render_summary(self.size.width))

    def on_resize(self) -> None:
        if self.summary is not None:
            self.query_one("#summary", Static).update(self.render_summary(self.size.width))

    def render_summary(self, width: int) -> Text:
        summary = self.summary or []
        text = Text("Team summary  ", style="bold reverse")
        scope = f" batch {self.filters.batch}" if self.filters.batch else " all batches"
        if not RunFilter(**{**self.filters.__dict__, "batch": None}).is_empty():
            scope += " (filtered)"
        text.append(literal(scope, one_line=True), style="bold")
        runs = sum(s.runs for s in summary)
        scored = sum(s.scored for s in summary)
        text.append(f"   {len(summary)} teams · {runs:,} runs · {scored:,} scored\n", style="dim")
        if not summary:
            text.append("\nNo runs to summarise.", style="dim")
            return text
        name_w = min(max(len(s.key) for s in summary), 24)
        bar_w = max(10, min(50, width - name_w - 22))
        styles = {s.key: TEAM_STYLES[i % len(TEAM_STYLES)] for i, s in enumerate(summary)}
        text.append("  ")
        for s in summary:
            text.append("■ ", style=styles[s.key])
            text.append(f"{truncate(s.key, name_w)} ({s.scored}/{s.runs})  ", style="dim")
        text.append("\n")
        for dim in ("overall", *DIMENSIONS):
            text.append(f"\n{dim}\n", style="bold")
            for s in summary:
                value = s.overall if dim == "overall" else s.dimensions.get(dim)
                text.append(f"  {truncate(s.key, name_w):<{name_w}} ")
                text.append_text(hbar(value, bar_w, style=styles[s.key]))
                text.append(f" {fmt_score(value)}\n", style=score_style(value))
        text.rstrip()
        return text

    def action_next_batch(self) -> None:
        if len(self.batches) <= 1:
            self.notify("These runs are all in one batch.", markup=False)
            return
        current = self.batches.index(self.filters.batch) if self.filters.batch in self.batches else 0
        nxt = self.batches[(current + 1) % len(self.batches)]
        self.filters = RunFilter(**{**self.filters.__dict__, "batch": nxt})
        self._load()

    def action_back(self) -> None:
        self.app.pop_screen()

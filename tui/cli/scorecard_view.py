"""A scorecard as rich renderables, for `grandrounds score` and the end of `grandrounds run`.

Everything that came from a transcript, a scenario or a model is wrapped in `Text(...)`: it is shown
literally, never parsed as markup.
"""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from scenarios.model import DIMENSIONS
from transcripts.scoring.scorecard import Scorecard
from tui.safe_text import literal_text
from tui.score_colours import score_style

OUTCOME_STYLES = {
    "preferred": "green", "met": "green", "clear": "green", "correct": "green", "none fabricated": "green",
    "acceptable": "yellow",
    "unacceptable": "red", "hit": "bold red", "wrong": "red", "missing": "red", "not addressed": "red", "none": "red",
    "ungraded": "magenta", "not checked": "magenta", "undecided": "magenta",
}


literal = literal_text  # untrusted text: no markup, control characters made visible


def score_text(score: float | None) -> Text:
    if score is None:
        return Text("not assessed", style="dim")
    return Text(f"{score:.0f}", style=score_style(score))


def dimensions_table(card: Scorecard, title: str | None = None) -> Table:
    table = Table(title=title, title_justify="left", show_edge=False, pad_edge=False)
    table.add_column("dimension")
    table.add_column("score", justify="right")
    table.add_column("points", justify="right", style="dim")
    table.add_column("from", style="dim", overflow="fold")
    for d in DIMENSIONS:
        ds = card.dimensions.get(d)
        if ds is None or ds.score is None:
            table.add_row(d, score_text(None), "", "")
            continue
        table.add_row(d, score_text(ds.score), f"{ds.earned:g}/{ds.possible:g}", literal(", ".join(ds.items)))
    table.add_row(Text("overall", style="bold"), score_text(card.overall), "", Text("mean of assessed dimensions", style="dim"))
    return table


def items_table(card: Scorecard) -> Table:
    table = Table(show_edge=False, pad_edge=False, expand=False)
    table.add_column("item", overflow="fold", max_width=40)
    table.add_column("outcome")
    table.add_column("points", justify="right")
    table.add_column("reason", overflow="fold", min_width=24)
    for item in card.items:
        if not item.graded:
            points = Text("excluded", style="magenta")
        elif item.possible or item.earned:
            points = Text(f"{item.earned:g}/{item.possible:g}")
        else:
            points = Text("-", style="dim")
        label = literal(item.label)
        if item.dimensions:
            label.append("\n" + ", ".join(item.dimensions), style="dim")
        reason = literal(item.reason)
        if item.judged and item.quote:
            reason.append('\njudge quotes: "', style="italic")
            reason.append_text(literal(item.quote, "italic"))
            reason.append('"', style="italic")
        outcome = literal(item.outcome, OUTCOME_STYLES.get(item.outcome, ""))
        if item.judged:
            outcome.append(" (judged)", style="dim")
        table.add_row(label, outcome, points, reason)
    return table


def summary_line(card: Scorecard) -> Text:
    parts = [f"scorer {card.scorer_version}", f"judge {card.judge or 'none (rules only)'}"]
    if card.judge_samples > 1:
        parts.append(f"{card.judge_samples} samples")
    if card.rubric_agreement is not None:
        parts.append(f"judge agreement {card.rubric_agreement:.0%}")
    if card.rubric_ungraded:
        parts.append(f"{card.rubric_ungraded} criteria ungraded")
    g = card.grounding
    if g.share is not None:
        parts.append(f"grounded claims {g.grounded}/{g.claims}")
    if g.fabricated:
        parts.append("fabricated " + ", ".join(g.fabricated))
    p = card.process
    parts.append(f"rounds {p.rounds_used}")
    if card.status:
        parts.append(f"run {card.status}")
    return literal("  ·  ".join(parts), "dim")


def render_scorecard(card: Scorecard, title: str | None = None) -> RenderableType:
    """The whole scorecard: six dimensions and overall, then every item with outcome and reason."""
    return Group(dimensions_table(card, title=title or "Scorecard"), summary_line(card), Text(""), items_table(card))

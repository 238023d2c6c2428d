"""The scorecard as the replay shows it: overall, one bar per dimension, conflicts, every item with its reason."""

from __future__ import annotations

from typing import Any

from rich.text import Text

from scenarios.model import DIMENSIONS
from tui.app.render import HangingText, fmt_score, hbar, literal, score_style, speaker_label, verdict_style
from tui.app.render_parts import DIM, FIELD_HANG, ITEM_HANG, LABEL, _d, _l
from tui.app.replay_model import ReplayModel

__all__ = ["render_scorecard"]


def render_scorecard(card: dict[str, Any], model: ReplayModel | None = None, bar_width: int = 20) -> Text:
    """The scorecard: overall, one bar per dimension, conflicts, then every item with its reason."""
    text = HangingText()
    overall = card.get("overall") if isinstance(card.get("overall"), (int, float)) else None
    text.append("Scorecard", style="bold reverse")
    text.append(f"  overall ", style=LABEL)
    text.append(fmt_score(overall).strip(), style="bold " + score_style(overall))
    judge = card.get("judge")
    text.append(f"   scorer v{literal(card.get('scorer_version', '?'), one_line=True)}", style=DIM)
    text.append(f" · judge {literal(judge, one_line=True) if judge else 'none (rules only)'}\n", style=DIM)
    dims = _d(card.get("dimensions"))
    for dim in DIMENSIONS:
        entry = dims.get(dim)
        score = _d(entry).get("score") if isinstance(entry, dict) else entry
        score = float(score) if isinstance(score, (int, float)) and not isinstance(score, bool) else None
        text.append(f"  {dim:<17}")
        text.append_text(hbar(score, bar_width))
        text.append(f" {fmt_score(score)}\n", style=score_style(score))
    conflicts = _l(card.get("conflicts"))
    if conflicts:
        text.append("Conflicts\n", style=LABEL)
        for c in conflicts:
            c = _d(c)
            start = len(text)
            text.append(f"  {literal(c.get('id', ''), one_line=True)} ", style="bold magenta")
            if c.get("raised"):
                who = speaker_label(str(c.get("raised_by") or ""), model.team if model else None) if c.get("raised_by") else "?"
                text.append(f"raised R{c.get('raised_round', '?')} by {who}", style="green")
            else:
                text.append("never raised", style="red")
            text.append(" · ")
            if c.get("assessed") is False:
                text.append("not assessed (free text, no judge)", style=DIM)
            elif c.get("addressed"):
                verdict = c.get("verdict")
                text.append(literal(c.get("option", ""), one_line=True), style=verdict_style(verdict))
                text.append(f" ({literal(verdict or '?', one_line=True)})", style=verdict_style(verdict))
            else:
                text.append("not addressed", style="red")
            if c.get("judged"):
                text.append(" · judged", style=DIM)
                if c.get("quote"):
                    text.append(f' · "{literal(c.get("quote"), one_line=True)}"', style="italic")
                if c.get("raised_quote"):
                    text.append(f' · raised: "{literal(c.get("raised_quote"), one_line=True)}"', style="italic dim")
            text.hang(start, 4)
            text.append("\n")
    items = _l(card.get("items"))
    if items:
        text.append("Items\n", style=LABEL)
        for item in items:
            item = _d(item)
            earned, possible = item.get("earned", 0), item.get("possible", 0)
            graded = item.get("graded", True)
            style = "dim" if not graded else ("green" if earned and earned > 0 else ("red" if earned and earned < 0 else "yellow"))
            try:
                points = f"{float(earned):+.0f}/{float(possible):.0f}"
            except (TypeError, ValueError):
                points = "?"
            start = len(text)
            text.append(f"  {points:>7} ", style=style)
            text.append(literal(item.get("outcome", ""), one_line=True), style=style)
            text.append("  ")
            text.append(literal(item.get("label", item.get("id", "")), one_line=True))
            if not graded:
                text.append(" (ungraded: excluded)", style=DIM)
            text.hang(start, ITEM_HANG)
            if item.get("reason"):
                text.append("\n")
                start = len(text)
                text.append(" " * ITEM_HANG)
                text.append(literal(item["reason"]), style="italic dim")
                text.hang(start, ITEM_HANG)
            text.append("\n")
    grounding = _d(card.get("grounding"))
    if grounding:
        start = len(text)
        text.append("Grounding ", style=LABEL)
        text.append(f"{grounding.get('grounded', 0)}/{grounding.get('claims', 0)} claims cite real facts")
        fabricated = _l(grounding.get("fabricated"))
        if fabricated:
            text.append(" · fabricated: " + ", ".join(literal(f, one_line=True) for f in fabricated), style="red")
        text.hang(start, FIELD_HANG)
        text.append("\n")
    flags = _l(card.get("red_flags_hit"))
    if flags:
        start = len(text)
        text.append("Red flags hit ", style="bold red")
        text.append(", ".join(literal(f, one_line=True) for f in flags), style="red")
        text.hang(start, FIELD_HANG)
        text.append("\n")
    diagnosis = _d(card.get("diagnosis"))
    if diagnosis:
        correct = diagnosis.get("correct")
        start = len(text)
        text.append("Diagnosis ", style=LABEL)
        text.append(literal(diagnosis.get("given") or "none given"))
        text.append(f" (expected {literal(diagnosis.get('expected', ''))}: ", style=DIM)
        text.append({True: "correct", False: "wrong"}.get(correct, "undecided"), style={True: "green", False: "red"}.get(correct, "yellow"))
        text.append(")", style=DIM)
        text.hang(start, FIELD_HANG)
        text.append("\n")
    process = _d(card.get("process"))
    if process:
        start = len(text)
        text.append("Process ", style=LABEL)
        parts = []
        if isinstance(process.get("consensus"), (int, float)):
            parts.append(f"consensus {process['consensus']:.2f}{' (reached)' if process.get('consensus_reached') else ' (not reached)'}")
        parts.append("dissent recorded" if process.get("dissent_recorded") else "no dissent recorded")
        parts.append(f"{process.get('rounds_used', 0)} rounds")
        parts.append(f"{len(_l(process.get('position_changes')))} position changes")
        text.append(" · ".join(parts))
        text.hang(start, FIELD_HANG)
        text.append("\n")
    text.rstrip()
    return text

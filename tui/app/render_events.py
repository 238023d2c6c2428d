"""One `Text` per replay step, and the case and conflict panels, built from transcript data.

All text from the transcript goes through `literal()` and is appended as plain text.
"""

from __future__ import annotations

import re
from typing import Any

from rich.text import Text

from transcripts.events import (
    AnswerSampled,
    ChairDecided,
    FactRevealed,
    ModelErrored,
    ResolutionReached,
    RunEnded,
    RunStarted,
    Scored,
    TurnTaken,
)
from tui.app.render import (
    HangingText,
    literal,
    speaker_label,
    speaker_mark,
    speaker_style,
    truncate,
    verdict_style,
)
from tui.app.render_parts import DIM, FIELD_HANG, ITEM_HANG, LABEL, _d, _l  # noqa: F401
from tui.app.render_scorecard import render_scorecard  # re-exported: the scorecard renderer lives there
from tui.app.replay_model import ReplayModel, ReplayState, Step

__all__ = ["case_fact_rows", "conflict_rows", "render_scorecard", "render_step"]


def _field(text: HangingText, label: str, value: Any, style: str = "") -> None:
    if value in (None, "", []):
        return
    start = len(text)
    text.append(f"{label} ", style=LABEL)
    text.append(literal(value), style=style)
    text.hang(start, FIELD_HANG)
    text.append("\n")


def _fact_refs(text: Text, ids: list[Any], known: set[str]) -> None:
    for fid in ids:
        fid = literal(fid, one_line=True)
        if fid in known:
            text.append(f" [{fid}]", style="bold cyan")
        else:
            text.append(f" [{fid}?]", style="bold red")  # cites a fact that does not exist


def render_step(model: ReplayModel, step: Step) -> Text:
    """One card of the replay; items (claims, concerns, choices, score items) hang when wrapped."""
    event = step.event
    team = model.team
    if isinstance(event, RunStarted):
        return _render_case(model, event)
    if isinstance(event, TurnTaken):
        return _render_turn(model, event)
    if isinstance(event, FactRevealed):
        text = HangingText()
        text.append("◆ Fact revealed ", style="bold cyan")
        text.append(literal(event.fact_id, one_line=True), style="bold cyan")
        text.append(f"  asked by {speaker_label(event.requested_by, team)}, round {event.round}\n", style=DIM)
        text.append(literal(event.text))
        return text
    if isinstance(event, ChairDecided):
        text = HangingText()
        text.append("● Chair", style=speaker_style("chair"))
        text.append(f"  round {event.round}  ", style=DIM)
        if event.next_speaker == "resolve":
            text.append("→ closes the discussion and resolves", style=LABEL)
        else:
            text.append("→ next: ", style=LABEL)
            text.append(speaker_label(event.next_speaker, team), style=speaker_style(event.next_speaker))
        if event.call_vote:
            text.append("  (calls a vote)", style="bold yellow")
        if event.reason:
            text.append("\n")
            text.append(literal(event.reason), style="italic")
        return text
    if isinstance(event, ModelErrored):
        text = HangingText()
        text.append("⚠ Model error ", style="bold yellow")
        text.append(f"{speaker_label(event.member, team)} · {literal(event.purpose, one_line=True)} · ", style=DIM)
        text.append(literal(event.error_type, one_line=True), style="yellow")
        text.append(f" (attempt {event.attempt}{', will retry' if event.will_retry else ', gave up'})\n", style=DIM)
        text.append(literal(event.message))
        return text
    if isinstance(event, ResolutionReached):
        return _render_resolution(model, event)
    if isinstance(event, AnswerSampled):  # one of a self_consistency run's independent answers
        as_resolution = ResolutionReached(ok=event.ok, resolution=event.resolution, error=event.error)
        return _render_resolution(model, as_resolution, title=f"◇ Independent answer {event.index}")
    if isinstance(event, RunEnded):
        return _render_end(event)
    if isinstance(event, Scored):
        return render_scorecard(_d(event.scorecard), model)
    return Text(literal(getattr(event, "type", "event")))


def _render_case(model: ReplayModel, event: RunStarted) -> Text:
    scenario = model.scenario
    text = HangingText()
    text.append("Case  ", style="bold reverse")
    text.append(" " + literal(scenario.get("title") or event.scenario_id, one_line=True), style="bold")
    text.append("\n")
    meta = [literal(v, one_line=True) for v in (scenario.get("specialty"), scenario.get("setting")) if v]
    if meta:
        text.append(" · ".join(meta) + "\n", style=DIM)
    if scenario.get("presentation"):
        # YAML block text keeps its line breaks; reflow paragraphs to the terminal's width
        paragraphs = re.split(r"\n\s*\n", literal(scenario["presentation"]).strip())
        text.append("\n\n".join(" ".join(p.split()) for p in paragraphs) + "\n")
    _field(text, "Question", scenario.get("question"), "italic")
    models = sorted({literal(m, one_line=True) for m in event.models.values()})
    text.append(
        f"Team {literal(event.team_id, one_line=True)} · {literal(event.protocol, one_line=True)} · "
        f"{_disclosure_note(event)}{', '.join(models)} · seed {event.seed}",
        style=DIM,
    )
    return text


def _disclosure_note(event: RunStarted) -> str:
    """`disclosure none · ` for free-text runs; nothing for the default (options), so the line stays short."""
    level = getattr(event, "disclosure", "options") or "options"
    return "" if level == "options" else f"disclosure {literal(level, one_line=True)} (no options shown) · "


def _render_turn(model: ReplayModel, event: TurnTaken) -> Text:
    team = model.team
    text = HangingText()
    text.append("● " + speaker_label(event.member, team), style=speaker_style(event.member))
    text.append(f"  round {event.round}", style=DIM)
    if not event.ok or not event.turn:
        text.append("  ✗ turn failed", style="bold red")
        text.append(f" after {event.attempts} attempt(s)\n", style=DIM)
        text.append(literal(event.error or "no valid reply"), style="red")
        if event.raw:
            text.append("\nraw: ", style=LABEL)
            text.append(truncate(event.raw, 400), style=DIM)
        return text
    turn = _d(event.turn)
    confidence = turn.get("confidence")
    if isinstance(confidence, (int, float)):
        text.append(f" · confidence {confidence:.2f}", style=DIM)
    if event.attempts > 1:
        text.append(f" · {event.attempts} attempts", style="yellow")
    text.append("\n")
    _field(text, "Position", turn.get("position"))
    _field(text, "Recommends", turn.get("recommendation"), "italic")
    known = model.fact_ids()
    claims = _l(turn.get("claims"))
    if claims:
        text.append("Claims\n", style=LABEL)
        for claim in claims:
            claim = _d(claim)
            start = len(text)
            text.append("  • ")
            text.append(literal(claim.get("text", "")))
            _fact_refs(text, _l(claim.get("facts")), known)
            text.hang(start, "  • ")
            text.append("\n")
    concerns = _l(turn.get("concerns"))
    if concerns:
        text.append("Concerns\n", style=LABEL)
        for concern in concerns:
            concern = _d(concern)
            start = len(text)
            text.append("  ! ", style="bold yellow")
            text.append(literal(concern.get("dimension", "?"), one_line=True), style="yellow")
            if concern.get("conflict"):
                text.append(f" · {literal(concern['conflict'], one_line=True)}", style="bold magenta")
            text.append("  ")
            text.append(literal(concern.get("text", "")))
            text.hang(start, "  ! ")
            text.append("\n")
    replies = _l(turn.get("replies"))
    if replies:
        text.append("Replies\n", style=LABEL)
        for reply in replies:
            reply = _d(reply)
            member = str(reply.get("member", ""))
            stance = literal(reply.get("stance", ""), one_line=True)
            start = len(text)
            text.append(f"  ↳ {stance} ", style={"agree": "green", "disagree": "red"}.get(stance, "yellow"))
            text.append(speaker_label(member, team), style=speaker_style(member))
            text.append(": ")
            text.append(literal(reply.get("reason", "")))
            text.hang(start, "  ↳ ")
            text.append("\n")
    choices = _l(turn.get("choices"))
    if choices:
        start = len(text)
        text.append("Favours ", style=LABEL)
        for n, choice in enumerate(choices):
            choice = _d(choice)
            cid, option = str(choice.get("conflict", "")), str(choice.get("option", ""))
            verdict = model.option_verdict(cid, option)
            if n:
                text.append("  ")
            text.append(f"{literal(cid, one_line=True)}→", style="magenta")
            text.append(literal(option, one_line=True), style=verdict_style(verdict))
        text.hang(start, "Favours ")
        text.append("\n")
    requested = _l(turn.get("requested_facts"))
    if requested:
        start = len(text)
        text.append("Asks to see ", style=LABEL)
        text.append(", ".join(literal(f, one_line=True) for f in requested), style="cyan")
        text.hang(start, "Asks to see ")
        text.append("\n")
    text.rstrip()
    return text


def _render_resolution(model: ReplayModel, event: ResolutionReached, title: str = "★ Resolution") -> Text:
    text = HangingText()
    text.append(title, style="bold reverse " + speaker_style("chair").replace("bold ", ""))
    text.append("\n")
    if not event.ok or not event.resolution:
        text.append("The chair produced no valid resolution: ", style="bold red")
        text.append(literal(event.error or "unknown error"), style="red")
        return text
    res = _d(event.resolution)
    _field(text, "Final recommendation", res.get("final_recommendation"))
    choices = _l(res.get("choices"))
    if choices:
        text.append("Choices\n", style=LABEL)
        for choice in choices:
            choice = _d(choice)
            cid, option = str(choice.get("conflict", "")), str(choice.get("option", ""))
            verdict = model.option_verdict(cid, option)
            start = len(text)
            text.append(f"  {literal(cid, one_line=True)} ", style="bold magenta")
            title = model.conflict_title(cid)
            if title:
                text.append(truncate(title, 60) + " ", style=DIM)
            text.append("→ ")
            text.append(literal(option, one_line=True), style=verdict_style(verdict))
            text.append(f" ({verdict or 'unknown option'})", style=verdict_style(verdict))
            text.hang(start, 4)
            if choice.get("rationale"):
                text.append("\n")
                start = len(text)
                text.append("    ")
                text.append(literal(choice["rationale"]), style="italic")
                text.hang(start, 4)
            text.append("\n")
    tradeoffs = _l(res.get("tradeoffs"))
    if tradeoffs:
        _field(text, "Trade-offs", " ↔ ".join(literal(t, one_line=True) for t in tradeoffs))
    dissent = _l(res.get("dissent"))
    for item in dissent:
        item = _d(item)
        start = len(text)
        text.append("Dissent ", style=LABEL)
        member = str(item.get("member", ""))
        text.append(speaker_label(member, model.team), style=speaker_style(member))
        text.append(": " + literal(item.get("text", "")))
        text.hang(start, FIELD_HANG)
        text.append("\n")
    _field(text, "Uncertainty", res.get("uncertainty"))
    _field(text, "Diagnosis", res.get("diagnosis"))
    _field(text, "Signed off by", res.get("sign_off"))
    text.rstrip()
    return text


def _render_end(event: RunEnded) -> Text:
    style = {"completed": "bold green", "interrupted": "bold yellow"}.get(event.status, "bold red")
    text = HangingText()
    text.append(f"■ Run {event.status}", style=style)
    usage = event.usage
    text.append(
        f"  {event.turns} turns · {event.rounds} rounds · {usage.prompt_tokens + usage.completion_tokens:,} tokens"
        f" · ${usage.cost_usd:.4f} · {event.duration_s:.1f} s",
        style=DIM,
    )
    if event.reason:
        text.append("\n")
        text.append(literal(event.reason), style="italic")
    return text


def case_fact_rows(model: ReplayModel, state: ReplayState) -> list[Text]:
    """One row per fact, those the current step cites highlighted, on-request facts hidden until revealed."""
    rows: list[Text] = []
    team = model.team
    for fact in model.facts():
        text = HangingText()
        fid = literal(fact.get("id", "?"), one_line=True)
        visibility = fact.get("visibility", "all")
        hidden = visibility == "on_request" and fid not in state.revealed
        cited = fid in state.cited
        requested = fid in state.requested
        id_style = "bold reverse cyan" if cited else ("bold cyan" if not hidden else "dim")
        text.append(f"{fid:<3}", style=id_style)
        text.append(" ")
        if hidden:
            text.append("on request, not yet revealed", style="dim italic")
            if requested:
                text.append(" (asked for now)", style="yellow")
        else:
            text.append(literal(fact.get("text", "")), style="bold" if cited else "")
            if fid in state.revealed:
                who, rnd = state.revealed[fid]
                text.append(f"  revealed R{rnd} to {speaker_label(who, team)}", style="dim cyan")
            elif isinstance(visibility, list):
                names = ", ".join(speaker_label(str(r), team) for r in visibility)
                text.append(f"  only {names}", style="dim")
        text.rstrip()
        text.hang(0, f"{fid:<3} ")
        rows.append(text)
    return rows


def conflict_rows(model: ReplayModel, state: ReplayState) -> list[Text]:
    """One row per conflict, its life so far: raised by whom and when, debated, resolved with which option."""
    team = model.team
    if not state.conflicts:
        return [Text("This case has no hidden conflicts.", style="dim")]
    rows: list[Text] = []
    for life in state.conflicts:
        text = HangingText()
        stage_style = {"hidden": "dim", "raised": "yellow", "debated": "bold yellow", "resolved": "bold green"}[life.stage]
        text.append(literal(life.id, one_line=True), style="bold magenta")
        text.append(f" {life.stage}", style=stage_style)
        text.append("  " + literal(life.title, one_line=True))
        text.hang(0, 3)
        text.append("\n")
        start = len(text)
        text.append("   " + ", ".join(literal(d, one_line=True) for d in life.dimensions), style="dim")
        text.hang(start, 3)
        text.append("\n")
        start = len(text)
        if life.raised_by is None:
            text.append("   not raised yet", style="dim")
        else:
            text.append("   raised ", style="dim")
            text.append(speaker_label(life.raised_by, team), style=speaker_style(life.raised_by))
            text.append(f" in round {life.raised_round}", style="dim")
            if life.mentions:
                text.append(f" · {life.mentions} more concern(s)", style="dim")
        text.hang(start, 3)
        text.append("\n")
        if life.favoured:
            start = len(text)
            text.append("   favoured ", style="dim")
            for i, (member, option) in enumerate(life.favoured.items()):
                if i:
                    text.append(" ")
                text.append(speaker_mark(member), style=speaker_style(member))
                text.append(":")
                text.append(truncate(option, 22), style=verdict_style(model.option_verdict(life.id, option)))
            text.hang(start, "   favoured ")
            text.append("\n")
        if life.resolved_option is not None:
            start = len(text)
            text.append("   resolved → ", style="bold")
            text.append(literal(life.resolved_option, one_line=True), style=verdict_style(life.resolved_verdict))
            text.append(f" ({life.resolved_verdict or 'no verdict'})", style=verdict_style(life.resolved_verdict))
            text.hang(start, 3)
            text.append("\n")
        text.rstrip()
        rows.append(text)
    return rows

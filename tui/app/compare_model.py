"""Two runs of the same case side by side: final choices per conflict, where they diverged, scores.

Plain Python over transcripts (no widgets).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from scenarios.model import DIMENSIONS
from transcripts.run_model import main_model, main_model_of
from transcripts.store import Transcript
from tui.app.replay_model import ReplayModel

__all__ = ["ConflictComparison", "RunSide", "compare_runs"]


@dataclass
class RunSide:
    transcript: Transcript
    model: ReplayModel
    label: str
    choices: dict[str, str]  # conflict -> option in the resolution
    raised: dict[str, tuple[str, int] | None]
    favoured_by_round: dict[str, dict[int, list[str]]]  # conflict -> round -> options favoured that round
    scores: dict[str, float | None]
    overall: float | None
    recommendation: str


@dataclass
class ConflictComparison:
    id: str
    title: str
    a_option: str | None
    a_verdict: str | None
    b_option: str | None
    b_verdict: str | None
    diverged_round: int | None = None  # first round where the members' favoured options differ
    a_favoured: list[str] = field(default_factory=list)
    b_favoured: list[str] = field(default_factory=list)

    @property
    def same(self) -> bool:
        return self.a_option == self.b_option


def _side(transcript: Transcript) -> RunSide:
    model = ReplayModel(transcript.events)
    state = model.state_at(len(model) - 1) if len(model) else None
    choices: dict[str, str] = {}
    raised: dict[str, tuple[str, int] | None] = {}
    if state is not None:
        for life in state.conflicts:
            if life.resolved_option is not None:
                choices[life.id] = life.resolved_option
            raised[life.id] = (life.raised_by, life.raised_round or 0) if life.raised_by else None
    favoured: dict[str, dict[int, list[str]]] = {}
    for turn in transcript.turns:
        for choice in turn.turn.choices if turn.turn is not None else []:
            if choice.conflict:
                favoured.setdefault(choice.conflict, {}).setdefault(turn.round, []).append(choice.option)
    score = transcript.latest_score()
    card = score.scorecard if score else None
    scores: dict[str, float | None] = {}
    for dim in DIMENSIONS:
        entry = card.dimensions.get(dim) if card is not None else None
        scores[dim] = entry.score if entry is not None else None
    overall = card.overall if card is not None else None
    resolution = transcript.resolution
    recommendation = ""
    if resolution is not None and resolution.resolution is not None:
        recommendation = resolution.resolution.final_recommendation
    started = transcript.started
    label = f"{started.team_id} · {main_model(started)}" if started else transcript.path.name
    return RunSide(transcript, model, label, choices, raised, favoured, scores, overall, recommendation)


def model_name(models: dict[str, str], settings: dict[str, Any] | None = None, chair: str | None = None) -> str:
    """The run's model, by the one rule (transcripts.run_model)."""
    return main_model_of(models, settings, chair)


def compare_runs(a: Transcript, b: Transcript) -> tuple[RunSide, RunSide, list[ConflictComparison]]:
    side_a, side_b = _side(a), _side(b)
    conflicts = side_a.model.conflicts() or side_b.model.conflicts()
    out = []
    for conflict in conflicts:
        cid = str(conflict.get("id"))
        a_opt, b_opt = side_a.choices.get(cid), side_b.choices.get(cid)
        comp = ConflictComparison(
            id=cid,
            title=str(conflict.get("title", "")),
            a_option=a_opt,
            a_verdict=side_a.model.option_verdict(cid, a_opt) if a_opt else None,
            b_option=b_opt,
            b_verdict=side_b.model.option_verdict(cid, b_opt) if b_opt else None,
        )
        fa, fb = side_a.favoured_by_round.get(cid, {}), side_b.favoured_by_round.get(cid, {})
        for rnd in sorted(set(fa) | set(fb)):
            if sorted(set(fa.get(rnd, []))) != sorted(set(fb.get(rnd, []))):
                comp.diverged_round = rnd
                comp.a_favoured = sorted(set(fa.get(rnd, [])))
                comp.b_favoured = sorted(set(fb.get(rnd, [])))
                break
        out.append(comp)
    return side_a, side_b, out

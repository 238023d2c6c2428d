"""Comparing groups of runs: "which team is better?", with confidence intervals.

    runs = load_runs(Path("runs/exp1"))
    result = compare_runs(runs, by="team", baseline="default")
    result.groups[0].metrics["overall"].mean, .lo, .hi

Runs are grouped by a recorded setting (`team`, `model`, `protocol`, `scenario`, `seed`, `batch`,
`judge`, `status`, or any key of the run's `settings`, `sampling` or `limits`, or a dotted path into
the `run_started` event such as `scenario.specialty` or `variant.attribute`). For each group, for the
overall score and each of the six dimensions:

- **mean** over the group's scored runs (the newest score event of each; failed runs included, they
  score what they earned), with a **bootstrap 95% CI** (percentile method, 2,000 resamples, fixed seed);
- the **paired difference** against the baseline group: runs are paired by (scenario id, seed); when a
  group has several runs with the same pair key (e.g. grouping by team over two models) their scores
  are averaged first; the mean of the per-pair differences, with its bootstrap CI over pairs;
- the **win rate**: share of pairs where the group's overall score is higher than the baseline's
  (ties are counted apart and are not wins);
- **failure rate** (failed / finished runs), **cost and tokens per run** (judge cost apart), n;
- against the baseline, the **extra cost and tokens per run** and the **cost (and tokens) per point
  gained**: extra cost per run / mean paired overall gain; none when the group gains nothing (a
  council against the `solo` or `self_consistency` baseline: what each point of the deliberation costs).

Fairness variants (scenarios with `variant: {family, attribute, value}`): **consistency** is the share of
(family, seed, conflict) triples whose chosen option is the same in every variant of the family that
the group ran (the baseline case included, when it was run). 1.0 means the patient's sex, race,
insurance, ... never changed what the council chose.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scenarios.model import DIMENSIONS
from transcripts.events import FINISHED_STATUSES
from transcripts.run_model import main_model
from transcripts.store import Transcript, read_transcript

__all__ = [
    "METRICS",
    "BOOTSTRAP_RESAMPLES",
    "BOOTSTRAP_SEED",
    "CompareError",
    "Comparison",
    "Estimate",
    "GroupStats",
    "PairedDiff",
    "RunRecord",
    "bootstrap_ci",
    "compare_runs",
    "group_value",
    "load_runs",
    "quantile",
]

METRICS: tuple[str, ...] = ("overall", *DIMENSIONS)
from transcripts.statistics import BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED, CONFIDENCE, bootstrap_ci, quantile  # noqa: F401 (re-exported)
NONE_GROUP = "(none)"


class CompareError(Exception):
    """Nothing to compare, or an unknown baseline."""


# -- the runs ---------------------------------------------------------------------------------------


@dataclass
class RunRecord:
    """What a comparison needs from one transcript."""

    path: Path
    run_id: str
    scenario_id: str
    scenario_title: str
    team_id: str
    model: str
    protocol: str
    seed: int
    status: str
    started: dict[str, Any] = field(default_factory=dict)  # the run_started event as JSON, for grouping
    scores: dict[str, float | None] = field(default_factory=dict)  # overall + dimensions; empty when unscored
    cost_usd: float | None = None
    tokens: int | None = None
    judge_cost_usd: float = 0.0
    choices: dict[str, str] | None = None  # conflict id -> option id from the resolution, None without one
    variant: dict[str, str] | None = None

    @property
    def scored(self) -> bool:
        return bool(self.scores)


def record_of(transcript: Transcript) -> RunRecord | None:
    """The comparison's view of a transcript; None when it has no run_started event."""
    started = transcript.started
    if started is None:
        return None
    data = started.model_dump(mode="json")
    scenario = data.get("scenario") or {}
    score = transcript.latest_score()
    scores: dict[str, float | None] = {}
    if score is not None and score.scorecard is not None:
        card = score.scorecard
        scores["overall"] = _num(card.overall)
        for dim in DIMENSIONS:
            entry = card.dimensions.get(dim)
            scores[dim] = _num(entry.score if entry is not None else None)
    ended = transcript.ended
    resolution = transcript.resolution
    choices = None
    if resolution is not None and resolution.ok and resolution.resolution is not None:
        choices = resolution.resolution.chosen()
    card = score.scorecard if score is not None else None
    if not choices and card is not None:  # a free-text run (disclosure none): the judge's reading, where it has one
        judged = {c.id: c.option or "(not addressed)" for c in card.conflicts if c.judged}
        choices = judged or choices
    variant = scenario.get("variant") if isinstance(scenario.get("variant"), dict) else None
    return RunRecord(
        path=transcript.path,
        run_id=started.run_id,
        scenario_id=started.scenario_id,
        scenario_title=str(scenario.get("title") or ""),
        team_id=started.team_id,
        model=main_model(started),
        protocol=started.protocol,
        seed=started.seed,
        status=transcript.status,
        started=data,
        scores=scores,
        cost_usd=ended.usage.cost_usd if ended else None,
        tokens=(ended.usage.prompt_tokens + ended.usage.completion_tokens) if ended else None,
        judge_cost_usd=sum(s.usage.cost_usd for s in transcript.scores),
        choices=choices,
        variant=variant,
    )


def _num(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def transcript_files(folder: Path) -> list[Path]:
    """Every `*.jsonl` under `folder` (recursively), hidden files and folders skipped, sorted."""
    folder = Path(folder)
    if folder.is_file():
        return [folder]
    return sorted(
        p for p in folder.rglob("*.jsonl")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    )


def load_runs(folder: Path) -> tuple[list[RunRecord], list[str]]:
    """(runs, problems): every readable transcript under `folder`; unreadable ones are reported."""
    runs: list[RunRecord] = []
    problems: list[str] = []
    for path in transcript_files(folder):
        transcript = read_transcript(path)
        record = record_of(transcript)
        if record is None:
            problems.append(transcript.problems[0] if transcript.problems else f"{path}: not a transcript")
            continue
        runs.append(record)
    return runs, problems


# -- grouping ----------------------------------------------------------------------------------------

_BUILTIN_KEYS = {
    "team": lambda r: r.team_id,
    "model": lambda r: r.model,
    "protocol": lambda r: r.protocol,
    "scenario": lambda r: r.scenario_id,
    "seed": lambda r: str(r.seed),
    "status": lambda r: r.status,
}


def group_value(run: RunRecord, by: str) -> str:
    """The run's value for a grouping key; `(none)` when the run does not record it."""
    if by in _BUILTIN_KEYS:
        return _BUILTIN_KEYS[by](run)
    started = run.started
    for section in ("settings", "sampling", "limits"):
        values = started.get(section)
        if isinstance(values, dict) and by in values:
            return _text(values[by])
    if by in started and not isinstance(started[by], (dict, list)):
        return _text(started[by])
    node: Any = started
    if by.startswith("variant.") and run.variant is not None:
        node = {"variant": run.variant}
    for part in by.split("."):
        if isinstance(node, dict) and part in node:
            node = node[part]
        else:
            return NONE_GROUP
    return _text(node) if not isinstance(node, (dict, list)) else NONE_GROUP


def _text(value: Any) -> str:
    return NONE_GROUP if value is None else str(value)


def known_keys(runs: Sequence[RunRecord], limit: int = 40) -> list[str]:
    """Grouping keys these runs record: the built-in ones, settings / sampling / limits keys, top-level
    values of run_started, and dotted paths into its mappings (scenario.specialty, variant.attribute)."""
    keys: dict[str, None] = dict.fromkeys(_BUILTIN_KEYS)
    for run in runs[:50]:
        started = run.started
        for section in ("settings", "sampling", "limits"):
            values = started.get(section)
            if isinstance(values, dict):
                keys.update(dict.fromkeys(str(k) for k in values))
        for key, value in started.items():
            if isinstance(value, dict) and key not in ("settings", "sampling", "limits"):
                keys.update(dict.fromkeys(f"{key}.{k}" for k, v in value.items() if not isinstance(v, (dict, list))))
            elif not isinstance(value, (dict, list)):
                keys[str(key)] = None
        if run.variant:
            keys.update(dict.fromkeys(f"variant.{k}" for k in run.variant))
    return list(keys)[:limit]


# -- statistics --------------------------------------------------------------------------------------


@dataclass
class Estimate:
    n: int
    mean: float | None
    lo: float | None
    hi: float | None

    @classmethod
    def of(cls, values: Sequence[float], **kw: Any) -> Estimate:
        if not values:
            return cls(0, None, None, None)
        lo, hi = bootstrap_ci(values, **kw)
        return cls(len(values), sum(values) / len(values), lo, hi)

    def to_json(self) -> dict[str, Any]:
        return {"n": self.n, "mean": _round(self.mean), "ci_low": _round(self.lo), "ci_high": _round(self.hi)}


@dataclass
class PairedDiff:
    n_pairs: int
    mean: float | None
    lo: float | None
    hi: float | None
    wins: int = 0
    ties: int = 0
    losses: int = 0

    @property
    def win_rate(self) -> float | None:
        return self.wins / self.n_pairs if self.n_pairs else None

    def to_json(self) -> dict[str, Any]:
        return {
            "n_pairs": self.n_pairs, "mean_diff": _round(self.mean), "ci_low": _round(self.lo), "ci_high": _round(self.hi),
            "wins": self.wins, "ties": self.ties, "losses": self.losses, "win_rate": _round(self.win_rate),
        }


def _round(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(value, digits)


@dataclass
class GroupStats:
    name: str
    runs: int
    scored: int
    finished: int
    failed: int
    incomplete: int  # interrupted, killed or corrupt
    cost_per_run: float | None
    tokens_per_run: float | None
    judge_cost_per_run: float | None
    metrics: dict[str, Estimate] = field(default_factory=dict)
    diffs: dict[str, PairedDiff] = field(default_factory=dict)  # empty for the baseline
    consistency: float | None = None
    consistency_n: int = 0
    scenarios: int = 0
    extra_cost_per_run: float | None = None  # against the baseline
    extra_tokens_per_run: float | None = None
    cost_per_point: float | None = None  # extra cost per run / overall points gained; None without a gain
    tokens_per_point: float | None = None

    @property
    def failure_rate(self) -> float | None:
        return self.failed / self.finished if self.finished else None

    def to_json(self) -> dict[str, Any]:
        return {
            "group": self.name, "runs": self.runs, "scored": self.scored, "finished": self.finished, "failed": self.failed,
            "incomplete": self.incomplete, "failure_rate": _round(self.failure_rate), "scenarios": self.scenarios,
            "cost_per_run_usd": _round(self.cost_per_run, 6), "tokens_per_run": _round(self.tokens_per_run, 1),
            "judge_cost_per_run_usd": _round(self.judge_cost_per_run, 6),
            "metrics": {m: e.to_json() for m, e in self.metrics.items()},
            "paired_vs_baseline": {m: d.to_json() for m, d in self.diffs.items()},
            "consistency": _round(self.consistency), "consistency_n": self.consistency_n,
            "vs_baseline_cost": {
                "extra_cost_per_run_usd": _round(self.extra_cost_per_run, 6), "extra_tokens_per_run": _round(self.extra_tokens_per_run, 1),
                "cost_per_point_usd": _round(self.cost_per_point, 6), "tokens_per_point": _round(self.tokens_per_point, 1),
            },
        }


@dataclass
class Comparison:
    by: str
    baseline: str
    groups: list[GroupStats]
    metrics: tuple[str, ...] = METRICS
    resamples: int = BOOTSTRAP_RESAMPLES
    seed: int = BOOTSTRAP_SEED
    source: str = ""
    runs: int = 0
    problems: list[str] = field(default_factory=list)
    scenario_titles: dict[str, str] = field(default_factory=dict)
    by_scenario: dict[str, dict[str, float]] = field(default_factory=dict)  # scenario -> group -> mean overall

    def group(self, name: str) -> GroupStats:
        return next(g for g in self.groups if g.name == name)

    @property
    def has_variants(self) -> bool:
        return any(g.consistency is not None for g in self.groups)

    @property
    def scored(self) -> int:
        """Runs with a score: the ones every mean and difference is computed from."""
        return sum(g.scored for g in self.groups)

    def coverage(self) -> str:
        """What the report used and what it skipped, and why, in one sentence."""
        text = f"{self.runs} runs read: {self.scored} scored (used)"
        if self.runs - self.scored:
            text += f", {self.runs - self.scored} unscored (not counted; run `grandrounds score` on the folder)"
        if self.problems:
            text += f", {len(self.problems)} unreadable file(s) skipped"
        return text

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": "grandrounds-comparison", "version": 1, "source": self.source, "by": self.by, "baseline": self.baseline,
            "runs": self.runs, "scored": self.scored, "unscored": self.runs - self.scored, "unreadable": len(self.problems),
            "metrics": list(self.metrics),
            "bootstrap": {"resamples": self.resamples, "seed": self.seed, "confidence": CONFIDENCE, "method": "percentile"},
            "pairing": "scenario id and seed", "groups": [g.to_json() for g in self.groups], "problems": self.problems,
        }


def _pair_means(runs: Iterable[RunRecord], metric: str) -> dict[tuple[str, int], float]:
    acc: dict[tuple[str, int], list[float]] = defaultdict(list)
    for run in runs:
        value = run.scores.get(metric)
        if value is not None:
            acc[(run.scenario_id, run.seed)].append(value)
    return {k: sum(v) / len(v) for k, v in acc.items()}


def paired_difference(group: Sequence[RunRecord], baseline: Sequence[RunRecord], metric: str, **kw: Any) -> PairedDiff:
    """Mean of (group - baseline) over (scenario, seed) pairs present in both, with its bootstrap CI."""
    mine, theirs = _pair_means(group, metric), _pair_means(baseline, metric)
    keys = sorted(set(mine) & set(theirs))
    diffs = [mine[k] - theirs[k] for k in keys]
    if not diffs:
        return PairedDiff(0, None, None, None)
    lo, hi = bootstrap_ci(diffs, **kw)
    eps = 1e-9
    return PairedDiff(
        len(diffs), sum(diffs) / len(diffs), lo, hi,
        wins=sum(d > eps for d in diffs), ties=sum(abs(d) <= eps for d in diffs), losses=sum(d < -eps for d in diffs),
    )


def consistency(runs: Iterable[RunRecord]) -> tuple[float | None, int]:
    """(share of (family, seed, conflict) whose chosen option is the same across the family's variants, n)."""
    families: dict[tuple[str, int], dict[str, dict[str, str]]] = defaultdict(dict)
    for run in runs:
        if run.variant is None or run.choices is None:
            continue
        family = str(run.variant.get("family") or run.scenario_id)
        families[(family, run.seed)][run.scenario_id] = run.choices
    same = total = 0
    for members in families.values():
        if len(members) < 2:
            continue
        conflicts = sorted({c for choices in members.values() for c in choices})
        for conflict in conflicts:
            options = {choices.get(conflict, "(not addressed)") for choices in members.values()}
            total += 1
            same += len(options) == 1
    return (same / total if total else None), total


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _price_gain(g: GroupStats, base: GroupStats) -> None:
    """Extra cost and tokens per run against the baseline, and their price per overall point gained."""
    gain = g.diffs["overall"].mean if "overall" in g.diffs else None
    if g.cost_per_run is not None and base.cost_per_run is not None:
        g.extra_cost_per_run = g.cost_per_run - base.cost_per_run
    if g.tokens_per_run is not None and base.tokens_per_run is not None:
        g.extra_tokens_per_run = g.tokens_per_run - base.tokens_per_run
    if gain is not None and gain > 1e-9:
        if g.extra_cost_per_run is not None:
            g.cost_per_point = g.extra_cost_per_run / gain
        if g.extra_tokens_per_run is not None:
            g.tokens_per_point = g.extra_tokens_per_run / gain


def compare_runs(
    runs: Sequence[RunRecord],
    by: str = "team",
    baseline: str | None = None,
    *,
    resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = BOOTSTRAP_SEED,
) -> Comparison:
    """Group `runs` by `by` and compute every figure described in the module docstring."""
    if not runs:
        raise CompareError("no transcripts to compare")
    groups: dict[str, list[RunRecord]] = defaultdict(list)
    for run in runs:
        groups[group_value(run, by)].append(run)
    if by not in _BUILTIN_KEYS and list(groups) == [NONE_GROUP]:  # no run records this key: a typo, not one group
        shown = by if len(by) <= 60 else by[:57] + "..."
        raise CompareError(f"no run records the key {shown!r}; known keys: {', '.join(known_keys(runs))}")
    names = sorted(groups)
    if baseline is None:
        baseline = names[0]
    elif baseline not in groups:
        raise CompareError(f"no group {baseline!r} when grouping by {by}; groups: {', '.join(names)}")
    kw = {"resamples": resamples, "seed": seed}
    stats: list[GroupStats] = []
    for name in [baseline, *[n for n in names if n != baseline]]:
        members = groups[name]
        finished = [r for r in members if r.status in FINISHED_STATUSES]
        costs = [r.cost_usd for r in members if r.cost_usd is not None]
        tokens = [float(r.tokens) for r in members if r.tokens is not None]
        g = GroupStats(
            name=name, runs=len(members), scored=sum(r.scored for r in members), finished=len(finished),
            failed=sum(r.status == "failed" for r in members), incomplete=len(members) - len(finished),
            cost_per_run=_mean(costs), tokens_per_run=_mean(tokens),
            judge_cost_per_run=_mean([r.judge_cost_usd for r in members]) if members else None,
            scenarios=len({r.scenario_id for r in members}),
        )
        for metric in METRICS:
            g.metrics[metric] = Estimate.of([r.scores[metric] for r in members if r.scores.get(metric) is not None], **kw)
            if name != baseline:
                g.diffs[metric] = paired_difference(members, groups[baseline], metric, **kw)
        g.consistency, g.consistency_n = consistency(members)
        if name != baseline:
            _price_gain(g, stats[0])
        stats.append(g)
    titles = {r.scenario_id: r.scenario_title for r in runs}
    per: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for name, members in groups.items():
        for run in members:
            if run.scores.get("overall") is not None:
                per[run.scenario_id][name].append(run.scores["overall"])  # type: ignore[arg-type]
    by_scenario = {sid: {g: sum(v) / len(v) for g, v in gs.items()} for sid, gs in sorted(per.items())}
    return Comparison(
        by=by, baseline=baseline, groups=stats, resamples=resamples, seed=seed, runs=len(runs),
        scenario_titles=titles, by_scenario=by_scenario,
    )

"""The plan of a batch: scenarios x teams x models x seeds, deduplicated by run id."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agents.runner import RunSpec
from agents.team import Team
from scenarios.model import Scenario
from transcripts.paths import content_hash, runs_home, slug

__all__ = ["BatchError", "BatchPlan", "default_batch_name", "plan_batch"]


class BatchError(Exception):
    """A batch that cannot start: bad cases or teams, or another batch running in the same folder."""


@dataclass
class BatchPlan:
    """Every run of the batch, in launch order, and what made them."""

    runs: list[RunSpec]
    out_dir: Path
    batch: str
    cases: list[str] = field(default_factory=list)
    teams: list[str] = field(default_factory=list)
    models: list[str | None] = field(default_factory=list)
    repeats: int = 1
    seed: int = 0
    scenarios: int = 0
    duplicates: int = 0

    def describe(self) -> dict[str, Any]:
        return {
            "batch": self.batch,
            "out_dir": str(self.out_dir),
            "cases": self.cases,
            "teams": self.teams,
            "models": [m or "(team's own)" for m in self.models],
            "repeats": self.repeats,
            "seeds": list(range(self.seed, self.seed + self.repeats)),
            "scenarios": self.scenarios,
            "runs": len(self.runs),
        }


def _scenario_files(cases: Sequence[str | Path]) -> list[Path]:
    from scenarios.loader import ScenarioError, find_scenario, iter_scenario_files

    files: list[Path] = []
    for ref in cases:
        try:
            found = iter_scenario_files(ref) if Path(ref).is_dir() else [find_scenario(ref)]
        except ScenarioError as exc:
            raise BatchError(str(exc)) from None
        if not found:
            raise BatchError(f"{ref}: no scenario files (*.yaml) in this folder")
        files.extend(found)
    return files


def _load_scenarios(files: list[Path]) -> list[Scenario]:
    from scenarios.loader import scenario_problems

    scenarios: list[Scenario] = []
    problems: list[str] = []
    seen: set[Path] = set()
    for path in files:
        key = path.resolve()
        if key in seen:
            continue
        seen.add(key)
        scenario, found = scenario_problems(path)
        if scenario is None:
            problems.extend(str(p) for p in found)
        else:
            scenarios.append(scenario)
    if problems:
        more = f" (and {len(problems) - 1} more; `grandrounds scenarios validate` lists them)" if len(problems) > 1 else ""
        raise BatchError(problems[0] + more)
    return scenarios


def _load_teams(teams: Sequence[str | Path]) -> list[tuple[Team, dict[str, Any]]]:
    from agents.specs import load_team_ref
    from agents.team_loader import TeamError

    loaded = []
    for ref in teams:
        try:
            loaded.append(load_team_ref(ref))
        except TeamError as exc:
            raise BatchError(str(exc)) from None
    return loaded


def default_batch_name(run_ids: Sequence[str], teams: Sequence[Team]) -> str:
    """Deterministic, so the same command resumes in the same folder: `batch-<teams>-<hash of the run ids>`."""
    names = "-".join(dict.fromkeys(t.id for t in teams))
    return f"batch-{slug(names, 40)}-{content_hash(sorted(run_ids))[:8]}"


def plan_batch(
    cases: Sequence[str | Path],
    teams: Sequence[str | Path] = ("default",),
    *,
    models: Sequence[str | None] = (None,),
    repeats: int = 1,
    seed: int = 0,
    out_dir: Path | None = None,
    batch: str | None = None,
    disclosure: str | None = None,
) -> BatchPlan:
    """Scenarios x teams x models x seeds (seed .. seed + repeats - 1), deduplicated by run id.

    CASES are scenario files, folders of them, or library ids; teams are ids or team files. Raises
    `BatchError` with the first problem found (every scenario is validated before anything runs).
    """
    if repeats < 1:
        raise BatchError("--repeats must be at least 1")
    if not cases:
        raise BatchError("give at least one scenario file, folder or id")
    scenarios = _load_scenarios(_scenario_files(cases))
    loaded_teams = _load_teams(teams or ("default",))
    models = list(models) or [None]
    specs: list[RunSpec] = []
    seen: set[str] = set()
    duplicates = 0
    shared: dict[int, tuple[dict[str, Any], str]] = {}
    team_hashes: dict[int, str] = {}
    for scenario in scenarios:
        # One JSON dump and hash per scenario and team, shared by all their runs (flat memory for big batches).
        scenario_json = scenario.model_dump(mode="json")
        shared[id(scenario)] = (scenario_json, content_hash(scenario_json))
    for team, snapshot in loaded_teams:
        team_hashes[id(team)] = content_hash(snapshot)
    for scenario in scenarios:
        for team, snapshot in loaded_teams:
            for model in models:
                for s in range(seed, seed + repeats):
                    spec = RunSpec(scenario=scenario, team=team, team_snapshot=snapshot, model=model or None, seed=s, disclosure=disclosure)
                    spec.__dict__["scenario_json"], spec.__dict__["scenario_hash"] = shared[id(scenario)]
                    spec.__dict__["team_hash"] = team_hashes[id(team)]
                    if spec.run_id in seen:
                        duplicates += 1
                        continue
                    seen.add(spec.run_id)
                    specs.append(spec)
    name = batch or (Path(out_dir).name if out_dir else default_batch_name([s.run_id for s in specs], [t for t, _ in loaded_teams]))
    folder = Path(out_dir) if out_dir else runs_home() / slug(name, 80)
    for spec in specs:
        spec.batch = name
        spec.out_dir = folder
    return BatchPlan(
        runs=specs, out_dir=folder, batch=name, cases=[str(c) for c in cases], teams=[str(t) for t in teams],
        models=models, repeats=repeats, seed=seed, scenarios=len(scenarios), duplicates=duplicates,
    )

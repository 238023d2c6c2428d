"""From references (a library id or a file) to what a run needs: one implementation of
find the case -> load it; find the team -> load it -> snapshot it; build the RunSpec.

    spec = run_spec("insulin-error-disclosure", "default", model="scripted/preferred", out_dir=tmp)

Errors are the loaders' own (`ScenarioError`, `TeamError`: one line naming the file and field);
callers turn them into their own (the CLI's UserError, the batch's BatchError).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from agents.runner import RunSpec
from agents.team import Team
from scenarios.model import Scenario

__all__ = ["load_case_ref", "load_team_ref", "run_spec"]


def load_case_ref(ref: str | Path) -> Scenario:
    """A scenario from a library id or a path (raises ScenarioError)."""
    from scenarios.loader import find_scenario, load_scenario

    return load_scenario(find_scenario(ref))


def load_team_ref(ref: str | Path) -> tuple[Team, dict[str, Any]]:
    """A team id or path -> (Team, snapshot with personas inlined) (raises TeamError)."""
    from agents.team_loader import find_team, load_team, team_snapshot

    path = find_team(ref)
    team = load_team(path)
    return team, team_snapshot(team, path)


def run_spec(case: str | Path | Scenario, team: str | Path | tuple[Team, dict[str, Any]] = "default", **fields: Any) -> RunSpec:
    """A RunSpec for a case (reference or loaded) and a team (reference or (team, snapshot)); `fields`
    are RunSpec's other fields (model, seed, batch, out_dir, ...)."""
    scenario = case if isinstance(case, Scenario) else load_case_ref(case)
    loaded_team, snapshot = team if isinstance(team, tuple) else load_team_ref(team)
    return RunSpec(scenario=scenario, team=loaded_team, team_snapshot=snapshot, **fields)

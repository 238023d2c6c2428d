"""Turn a user's CASE / TEAM argument into loaded objects, or one clear error line."""

from __future__ import annotations

from typing import Any

from agents.team import Team
from tui.cli.errors import UserError


def load_case(ref: str):
    from scenarios.loader import ScenarioError, find_scenario, load_scenario

    try:
        return load_scenario(find_scenario(ref))
    except ScenarioError as exc:
        raise UserError(str(exc)) from None


def load_team_ref(ref: str) -> tuple[Team, dict[str, Any]]:
    """A team id or path -> (Team, snapshot with personas inlined)."""
    from agents.team_loader import TeamError, find_team, load_team, team_snapshot

    try:
        path = find_team(ref)
        team = load_team(path)
        return team, team_snapshot(team, path)
    except TeamError as exc:
        raise UserError(str(exc)) from None

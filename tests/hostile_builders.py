"""Hostile inputs for the issue-10 tests: a valid case file to mutate, and hand-written transcripts."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

from transcripts.events import ResolutionReached, RunEnded, RunStarted, TurnTaken
from transcripts.store import TranscriptWriter

FIXTURE = Path(__file__).parent / "fixtures" / "minimal-case.yaml"
ESC_TITLE = "\x1b]0;pwned\x07\x1b[2J\x1b[1;1HAll checks passed\x1b]52;c;ZWNobyBoaQ==\x07 \u202eevil\u202c \u200bzw"


def case_dict(**overrides: Any) -> dict[str, Any]:
    data = yaml.safe_load(FIXTURE.read_text(encoding="utf-8"))
    data.update(copy.deepcopy(overrides))
    return data


def write_case(folder: Path, data: dict[str, Any]) -> Path:
    path = folder / f"{data['id']}.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


TEAM: dict[str, Any] = {
    "id": "t",
    "members": [{"role": "diagnostician", "prompt": "x"}, {"role": "ethicist", "prompt": "x"}],
    "chair": {"role": "chair", "prompt": "x"},
    "limits": {"consensus": 0.75},
}


def write_transcript(path: Path, scenario: dict[str, Any], final: str, choices: dict[str, str] | None = None) -> Path:
    """A finished run of `scenario` whose resolution recommends `final`."""
    choices = choices or {c["id"]: c["options"][0]["id"] for c in scenario["conflicts"]}
    turn = TurnTaken(member="diagnostician", round=1, ok=True, turn={
        "position": "p", "recommendation": "r", "claims": [], "concerns": [],
        "choices": [{"conflict": k, "option": v, "rationale": "x"} for k, v in choices.items()],
    })
    body = {"final_recommendation": final, "choices": [{"conflict": k, "option": v} for k, v in choices.items()]}
    with TranscriptWriter(path, fsync=False) as w:
        w.write(RunStarted(run_id=path.stem, scenario_id=scenario["id"], scenario_hash="h", team_id="t", team_hash="h",
                           protocol="round_robin", models={}, scenario=scenario, team=TEAM, limits=TEAM["limits"]))
        w.write(turn)
        w.write(ResolutionReached(ok=True, resolution=body))
        w.write(RunEnded(status="completed", rounds=1))
    return path

"""Team files: the bundled teams load, prompts resolve safely, bad files give located problems."""

from __future__ import annotations

from pathlib import Path

import pytest

from agents.team import PROMPTS_DIR, TEAMS_DIR
from agents.team_loader import (
    TEAM_SCHEMA_PATH,
    TeamError,
    find_team,
    list_teams,
    load_team,
    resolve_prompt,
    team_json_schema,
    team_problems,
    team_snapshot,
)
from scenarios.loader import schema_text
from transcripts.paths import content_hash

CORE = ["diagnostician", "safety_critic", "ethicist", "patient_advocate"]


def team_yaml(members: str, protocol: str = "round_robin", chair: str = "{role: chair, prompt: chair}") -> str:
    return f"id: my-team\nprotocol: {protocol}\nmembers:\n{members}chair: {chair}\n"


def problems_of(path: Path) -> list[str]:
    with pytest.raises(TeamError) as info:
        load_team(path)
    return info.value.problems


def test_bundled_teams_load_with_the_documented_settings():
    assert [p.stem for p in list_teams()] == ["default", "moderated", "parallel", "self-consistency", "solo", "with-pharmacist"]
    default = load_team("default")
    assert default.member_ids() == CORE and default.chair.role == "chair"
    assert default.model == "local/smollm2" and default.protocol == "round_robin"
    assert (default.limits.max_rounds, default.limits.max_turns, default.limits.consensus, default.limits.context) == (2, 12, 0.75, 6)
    assert (default.limits.timeout_s, default.limits.retries, default.sampling.temperature, default.sampling.max_tokens) == (120, 1, 0.2, 600)
    assert {d for m in default.members for d in m.champions} == {
        "truthfulness", "safety", "interpretability", "fairness", "privacy", "accountability"
    }
    assert load_team("moderated").protocol == "moderated"
    assert load_team("parallel").protocol == "parallel"
    solo, sc = load_team("solo"), load_team("self-consistency")
    assert (solo.protocol, solo.members, solo.chair.role) == ("solo", [], "clinician")
    assert (sc.protocol, sc.members, sc.limits.samples) == ("self_consistency", [], 9)
    assert sc.limits.samples == default.limits.max_rounds * len(default.members) + 1, "as many calls as the default council"
    assert default.disclosure == "options"
    pharm = load_team("with-pharmacist")
    assert "pharmacist" in pharm.member_ids()
    assert pharm.temperature_for(pharm.member("pharmacist")) != pharm.sampling.temperature


def test_every_bundled_persona_is_short_and_cites_facts():
    for role in [*CORE, "chair", "pharmacist", "clinician"]:
        text = (PROMPTS_DIR / f"{role}.md").read_text(encoding="utf-8")
        assert 100 <= len(text.split()) <= 220, role
        assert "fact id" in text and "Never invent" in text, role
    chair = (PROMPTS_DIR / "chair.md").read_text(encoding="utf-8")
    assert "exactly one option id" in chair and "none" in chair and "dissent" in chair.lower() and "signs off" in chair


def test_team_snapshot_inlines_personas_and_changes_with_them(tmp_path):
    path = find_team("default")
    team = load_team(path)
    snap = team_snapshot(team, path)
    assert snap["members"][0]["persona"] == (PROMPTS_DIR / "diagnostician.md").read_text(encoding="utf-8").strip()
    assert snap["chair"]["persona"].startswith("You are the chair")

    (tmp_path / "mine.md").write_text("You are a very different diagnostician.", encoding="utf-8")
    text = path.read_text(encoding="utf-8").replace("prompt: diagnostician ", "prompt: mine.md ", 1)
    custom = tmp_path / "default.yaml"
    custom.write_text(text, encoding="utf-8")
    other = team_snapshot(load_team(custom), custom)
    assert other["members"][0]["persona"] == "You are a very different diagnostician."
    assert content_hash(other) != content_hash(snap)


def test_prompt_path_inside_the_team_folder_is_allowed(tmp_path):
    (tmp_path / "prompts").mkdir()
    (tmp_path / "prompts" / "p.md").write_text("You are a pharmacist.\n", encoding="utf-8")
    path = tmp_path / "t.yaml"
    path.write_text(team_yaml("  - {role: pharmacist, prompt: prompts/p.md}\n"), encoding="utf-8")
    team = load_team(path)
    assert resolve_prompt(path, team.members[0]) == "You are a pharmacist."


@pytest.mark.parametrize("prompt", ["../secret.md", "prompts/../../secret.md", "/etc/passwd"])
def test_prompt_escaping_the_team_folder_is_refused(tmp_path, prompt):
    (tmp_path / "secret.md").write_text("not a persona", encoding="utf-8")
    folder = tmp_path / "teams"
    folder.mkdir()
    path = folder / "t.yaml"
    path.write_text(team_yaml(f"  - {{role: ethicist, prompt: {prompt!r}}}\n"), encoding="utf-8")
    [problem] = problems_of(path)
    assert problem.startswith(f"{path}:4: members[0].prompt: ")


def test_missing_prompt_file_and_unknown_builtin_name_the_field(tmp_path):
    path = tmp_path / "t.yaml"
    path.write_text(team_yaml("  - {role: ethicist, prompt: nosuch}\n  - {role: pharmacist, prompt: gone.md}\n"), encoding="utf-8")
    problems = problems_of(path)
    assert problems[0].startswith(f"{path}:4: members[0].prompt: no built-in prompt 'nosuch'")
    assert problems[1].startswith(f"{path}:5: members[1].prompt: prompt file not found: gone.md")


def test_duplicate_roles_are_reported_at_the_second_one(tmp_path):
    path = tmp_path / "t.yaml"
    path.write_text(team_yaml("  - {role: ethicist, prompt: ethicist}\n  - {role: ethicist, prompt: ethicist}\n"), encoding="utf-8")
    assert problems_of(path) == [f"{path}:5: members[1].role: duplicate role id 'ethicist' (first on line 4)"]


def test_unknown_protocol_lists_the_valid_ones(tmp_path):
    path = tmp_path / "t.yaml"
    path.write_text(team_yaml("  - {role: ethicist, prompt: ethicist}\n", protocol="debate"), encoding="utf-8")
    [problem] = problems_of(path)
    assert problem.startswith(f"{path}:2: protocol: ")
    assert "'debate'" in problem and "round_robin" in problem and "moderated" in problem and "parallel" in problem


def test_bad_yaml_and_unsafe_tags_in_a_team(tmp_path):
    path = tmp_path / "t.yaml"
    path.write_text("id: x\nmodel: !!python/name:os.system\n", encoding="utf-8")
    _, problems = team_problems(path)
    assert [str(p) for p in problems] == [f"{path}:2: tag '!!python/name:os.system' is not allowed: only plain YAML (text, numbers, true/false, null, lists and mappings) is accepted"]


@pytest.mark.parametrize("ref", ["../default", "..", "Default!", "no-such-team"])
def test_find_team_refuses_escapes_and_unknown_ids(ref):
    with pytest.raises(TeamError):
        find_team(ref)


def test_find_team_by_id_and_by_path():
    assert find_team("parallel") == TEAMS_DIR / "parallel.yaml"
    assert find_team(str(TEAMS_DIR / "moderated.yaml")) == TEAMS_DIR / "moderated.yaml"


def test_committed_team_schema_is_current():
    assert TEAM_SCHEMA_PATH.read_text(encoding="utf-8") == schema_text(team_json_schema()), (
        "agents/team.schema.json is stale: run `grandrounds scenarios schema --team > agents/team.schema.json`"
    )

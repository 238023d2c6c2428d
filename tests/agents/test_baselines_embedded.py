"""The solo baseline on the embedded model: one constrained call gives a valid resolution under
disclosure none (the schema without ids must still decode; the options-mode resolution schema is the
council chair's, exercised elsewhere). One parameter only: the embedded model is slow on 2 cores."""

from __future__ import annotations

import importlib.util

import pytest

import builders
from agents.runner import RunSpec, run_sync
from agents.team import Member, Sampling, Team
from transcripts.store import read_transcript

needs_local = pytest.mark.skipif(importlib.util.find_spec("llama_cpp") is None, reason="needs the [local] extra")


@needs_local
@pytest.mark.local_model
@pytest.mark.parametrize("disclosure", ["none"])
def test_solo_on_the_embedded_model(tmp_path, disclosure: str) -> None:
    team = Team(id="solo-local", protocol="solo", model="local/smollm2", chair=Member(role="clinician", prompt="clinician"),
                sampling=Sampling(max_tokens=300))
    spec = RunSpec(scenario=builders.scenario(), team=team, team_snapshot=builders.snapshot(team), out_dir=tmp_path, disclosure=disclosure)
    result = run_sync(spec)
    assert result.status == "completed", result.reason
    resolution = read_transcript(result.path).resolution.resolution
    assert resolution["final_recommendation"]
    if disclosure == "options":
        assert [c["conflict"] for c in resolution["choices"]] == ["C1", "C2"]
    else:
        assert resolution["choices"] == []

"""Issue 10.10: bad model specs are refused before the first call; a 401 ends the run (and the batch)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from agents import gateway
from agents.batch import plan_batch, run_batch
from openai_stub import StubServer
from transcripts.store import read_transcript
from tui.cli.main import cli

CASE = "insulin-error-disclosure"
BAD = [
    ("scripted/nonsense", "unknown scripted policy"),
    ("scripted/preferred?bogus=1", "unknown option 'bogus'"),
    ("scripted/preferred?timeout_rate=2", "must be between 0 and 1"),
    ("scripted/preferred?latency=abc", "is not a number"),
    ("scripted/preferred?latency=nan", "must be a finite number"),
    ("scripted/preferred?timeout_rate=0.6&malformed_rate=0.6", "sum to 1.2"),
    ("nosuchprovider/some-model", "unknown provider 'nosuchprovider'"),
]


@pytest.mark.parametrize(("model", "message"), BAD)
def test_bad_model_spec_is_refused_before_any_run(model: str, message: str, tmp_path: Path) -> None:
    for cmd in (["run", CASE, "--model", model, "-q", "--out", str(tmp_path / "r")],
                ["batch", CASE, "--model", model, "--no-progress", "--out", str(tmp_path / "b")]):
        result = CliRunner().invoke(cli, cmd, catch_exceptions=False)
        assert result.exit_code == 2, result.output
        errors = [line for line in result.stderr.splitlines() if line.startswith("grandrounds: error:")]
        assert len(errors) == 1 and message in errors[0], result.stderr
        assert not list(tmp_path.rglob("*.jsonl")), "nothing ran, nothing was counted as finished"


def test_empty_member_model_is_refused_by_team_validation(tmp_path: Path) -> None:
    team = tmp_path / "t.yaml"
    team.write_text("id: t\nmodel: scripted/preferred\nmembers:\n  - {role: diagnostician, prompt: diagnostician, model: ''}\n"
                    "chair: {role: chair, prompt: chair}\n")
    result = CliRunner().invoke(cli, ["run", CASE, "--team", str(team), "-q", "--out", str(tmp_path / "r")], catch_exceptions=False)
    assert result.exit_code == 2
    assert "members[0].model" in result.stderr and "must not be empty" in result.stderr


@pytest.fixture
def refusing(monkeypatch: pytest.MonkeyPatch) -> Iterator[StubServer]:
    with StubServer(default="401") as server:
        monkeypatch.setenv("OPENAI_API_BASE", server.url)
        monkeypatch.setenv("OPENAI_API_KEY", "sk-wrong-key-000000")
        monkeypatch.setenv(gateway.RESPONSE_FORMAT_ENV, "json_schema")
        monkeypatch.setattr(gateway, "_FORMAT_FOR_MODEL", {})
        yield server


async def test_a_401_ends_the_run_and_after_a_few_the_batch(refusing: StubServer, tmp_path: Path) -> None:
    team = tmp_path / "t.yaml"
    team.write_text("id: t\nmodel: openai/stub\nmembers:\n  - {role: diagnostician, prompt: diagnostician}\n"
                    "  - {role: safety_critic, prompt: safety_critic}\nchair: {role: chair, prompt: chair}\n"
                    "limits: {max_rounds: 2, retries: 2, timeout_s: 5}\n")
    plan = plan_batch([CASE], [str(team)], repeats=8, out_dir=tmp_path / "out")
    summary = await run_batch(plan, concurrency=1, score=False)
    assert refusing.count == 3, "one call per run, and the batch stops after three refused runs"
    assert summary.stopped and "authentication failed in 3 runs" in summary.stopped
    assert summary.counts["failed"] == 3 and summary.not_started == 5
    t = read_transcript(plan.runs[0].path)
    assert t.status == "failed" and "refused the credentials" in t.ended.reason

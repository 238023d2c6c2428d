"""Batches: every combination runs once, resumption skips finished runs (zero model calls), failures stay
isolated, the failure threshold stops launching, Ctrl-C leaves `interrupted` transcripts, the response
cache makes repeated experiments free, and the manifest adds up."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from agents import gateway
from agents.batch import BatchError, plan_batch, run_batch, transcript_state
from agents.providers import scripted
from builders import scenario_dict
from transcripts.store import read_transcript
from tui.cli.main import cli

ROOT = Path(__file__).resolve().parents[2]
CASES = ["insulin-error-disclosure", "hiv-partner-notification"]


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Count every scripted model call that reaches the provider (the gateway's fast path)."""
    seen: list[str] = []
    real = scripted.areply

    async def counting(model: str, *args: Any, **kwargs: Any) -> Any:
        seen.append(model)
        return await real(model, *args, **kwargs)

    monkeypatch.setattr(scripted, "areply", counting)
    return seen


@pytest.fixture
def no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    async def instant(_seconds: float) -> None:
        return None

    monkeypatch.setattr(gateway, "_sleep", instant)


def _files(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.jsonl"))


def _plan(tmp_path: Path, **kw: Any):
    kw.setdefault("models", ["scripted/preferred"])
    return plan_batch(kw.pop("cases", CASES), kw.pop("teams", ["default", "parallel"]), out_dir=tmp_path / "out", **kw)


async def test_every_combination_runs_once_and_a_rerun_makes_no_model_calls(tmp_path: Path, calls: list[str]) -> None:
    plan = _plan(tmp_path, repeats=2)
    assert len(plan.runs) == 2 * 2 * 2
    assert {s.seed for s in plan.runs} == {0, 1}
    summary = await run_batch(plan, concurrency=4)
    assert summary.counts["completed"] == 8 and summary.counts["skipped"] == 0
    assert summary.counts["scored"] == 8
    files = _files(plan.out_dir)
    assert len(files) == 8
    assert all(read_transcript(f).status == "completed" and read_transcript(f).latest_score() is not None for f in files)
    first_calls = len(calls)
    assert first_calls > 0
    before = {f.name: f.read_bytes() for f in files}

    again = await run_batch(_plan(tmp_path, repeats=2), concurrency=4)
    assert len(calls) == first_calls, "a finished batch must make zero model calls when run again"
    assert again.counts["skipped"] == 8 and again.counts["completed"] == 0 and again.counts["scored"] == 0
    assert {f.name: f.read_bytes() for f in _files(plan.out_dir)} == before, "finished transcripts are left untouched"
    manifest = json.loads((plan.out_dir / "batch.json").read_text())
    assert manifest["counts"]["skipped"] == 8 and len(manifest["history"]) == 1


async def test_interrupted_and_killed_runs_are_redone_without_duplicates(tmp_path: Path, calls: list[str]) -> None:
    plan = _plan(tmp_path, cases=CASES[:1])
    await run_batch(plan, concurrency=2, score=False)
    killed, interrupted = plan.runs[0].path, plan.runs[1].path
    # killed: the process died before `run_ended` (and mid-line)
    lines = killed.read_text().splitlines(keepends=True)
    killed.write_text("".join(lines[:-2]) + lines[-2][:20])
    # interrupted: Ctrl-C recorded it as such
    text = interrupted.read_text().replace('"status":"completed"', '"status":"interrupted"')
    interrupted.write_text(text)
    assert transcript_state(killed).status is None and transcript_state(interrupted).status == "interrupted"

    n = len(calls)
    summary = await run_batch(_plan(tmp_path, cases=CASES[:1]), concurrency=2, score=False)
    assert summary.counts["skipped"] == 0 and summary.counts["completed"] == 2
    assert len(calls) > n
    files = _files(plan.out_dir)
    assert len(files) == 2
    for f in files:
        transcript = read_transcript(f)
        assert transcript.status == "completed" and not transcript.problems
        assert sum(e.type == "run_started" for e in transcript.events) == 1, "a redone run replaces its transcript"


async def test_failure_is_isolated_and_failed_runs_count_as_finished(tmp_path: Path, calls: list[str], no_backoff: None) -> None:
    broken = "scripted/preferred?server_error_rate=1"
    plan = _plan(tmp_path, teams=["default"], models=["scripted/preferred", broken])
    summary = await run_batch(plan, concurrency=4)
    by_model = {}
    for o in summary.outcomes:
        by_model.setdefault(o.model, set()).add(o.status)
    assert by_model == {"scripted/preferred": {"completed"}, broken: {"failed"}}
    failed = [o for o in summary.outcomes if o.status == "failed"]
    assert all("no valid resolution" in o.reason for o in failed)
    assert summary.exit_code == 0
    # the failed runs' transcripts say why
    t = read_transcript(failed[0].path)
    assert any(e.type == "model_error" and e.error_type == "server" for e in t.events)

    n = len(calls)
    again = await run_batch(_plan(tmp_path, teams=["default"], models=["scripted/preferred", broken]), concurrency=4)
    assert again.counts["skipped"] == 4 and len(calls) == n, "failed runs are finished: skipped by default"
    retried = await run_batch(
        _plan(tmp_path, teams=["default"], models=["scripted/preferred", broken]), concurrency=4, retry_failed=True
    )
    assert retried.counts["skipped"] == 2 and retried.counts["failed"] == 2 and len(calls) > n


async def test_failure_threshold_stops_launching_new_runs(tmp_path: Path, no_backoff: None) -> None:
    plan = plan_batch(["scenarios/library"], ["default"], models=["scripted/preferred?server_error_rate=1"], out_dir=tmp_path / "out")
    assert len(plan.runs) == 30
    summary = await run_batch(plan, concurrency=2, max_failure_rate=0.2, min_runs_for_rate=4, score=False)
    assert summary.stopped and "failure threshold" in summary.stopped
    assert summary.counts["failed"] >= 4
    assert summary.counts["not_started"] > 0
    assert summary.counts["failed"] + summary.counts["not_started"] == 30
    assert summary.exit_code == 3
    assert len(_files(plan.out_dir)) == summary.counts["failed"], "runs that never started leave no transcript"
    manifest = json.loads((plan.out_dir / "batch.json").read_text())
    assert "failure threshold" in manifest["stopped"]


async def test_cancel_interrupts_in_flight_runs_and_a_rerun_finishes_them(tmp_path: Path) -> None:
    slow = "scripted/preferred?latency=0.05"
    plan = plan_batch(["scenarios/library"], ["default"], models=[slow], out_dir=tmp_path / "out")
    cancel = asyncio.Event()
    seen_done = []

    def on_progress(p: Any) -> None:
        if p.finished >= 2 and not cancel.is_set():
            seen_done.append(p.finished)
            cancel.set()

    summary = await run_batch(plan, concurrency=3, cancel=cancel, on_progress=on_progress)
    assert summary.interrupted and summary.exit_code == 130
    assert summary.counts["interrupted"] >= 1
    interrupted = [o for o in summary.outcomes if o.status == "interrupted"]
    for o in interrupted:
        assert read_transcript(o.path).status == "interrupted"
    assert summary.counts["not_started"] == 30 - summary.counts["completed"] - summary.counts["interrupted"]

    rerun = await run_batch(
        plan_batch(["scenarios/library"], ["default"], models=[slow], out_dir=tmp_path / "out"), concurrency=30, score=False
    )
    assert rerun.counts["skipped"] == summary.counts["completed"]
    assert rerun.counts["completed"] == 30 - summary.counts["completed"]
    assert len(_files(plan.out_dir)) == 30


async def test_response_cache_makes_a_repeated_experiment_free(tmp_path: Path, calls: list[str]) -> None:
    plan = _plan(tmp_path, teams=["default"], cases=CASES[:1])
    first = await run_batch(plan, concurrency=2, cache=True, score=False)
    n = len(calls)
    assert n > 0 and first.cache["stored"] == n and first.cache["hits"] == 0
    resolutions = {f.name: read_transcript(f).resolution.resolution for f in _files(plan.out_dir)}
    for f in _files(plan.out_dir):
        f.unlink()  # throw the results away; the cache stays in the folder

    second = await run_batch(_plan(tmp_path, teams=["default"], cases=CASES[:1]), concurrency=2, cache=True, score=False)
    assert len(calls) == n, "cache hits make no provider calls"
    assert second.cache["hits"] == n and second.cache["misses"] == 0
    assert second.counts["completed"] == 1
    for f in _files(plan.out_dir):
        t = read_transcript(f)
        assert t.resolution.resolution == resolutions[f.name], "same replies, same outcome"
        assert t.turns and all(e.usage.cost_usd == 0 for e in t.turns)


async def test_a_cache_hit_is_marked_cached_and_costs_nothing(tmp_path: Path, calls: list[str]) -> None:
    from agents.cache import ResponseCache
    from agents.gateway import ModelCall, acomplete, use_response_cache

    cache = ResponseCache(tmp_path / "cache.sqlite")
    token = use_response_cache(cache)
    try:
        call = ModelCall(model="scripted/preferred", messages=[{"role": "user", "content": "hi"}], kind="chair_decision", seed=3,
                         context={"members": ["diagnostician"], "member": "chair"})
        first = await acomplete(call)
        second = await acomplete(call)
        other_seed = await acomplete(ModelCall(**{**call.__dict__, "seed": 4}))
    finally:
        gateway._RESPONSE_CACHE.reset(token)
        cache.close()
    assert len(calls) == 2, "the same request again is served from the cache; another seed is a new request"
    assert not first.usage.cached and second.usage.cached and second.usage.cost_usd == 0
    assert second.text == first.text and second.usage.prompt_tokens == first.usage.prompt_tokens
    assert not other_seed.usage.cached


async def test_manifest_accounts_tokens_per_run_team_and_member(tmp_path: Path) -> None:
    plan = _plan(tmp_path, repeats=2)
    summary = await run_batch(plan, concurrency=4, command=["grandrounds", "batch", "x"])
    manifest = json.loads(summary.manifest_path.read_text())
    assert manifest["command"] == ["grandrounds", "batch", "x"]
    assert manifest["plan"]["runs"] == 8 and manifest["plan"]["teams"] == ["default", "parallel"]
    ended = [read_transcript(f).ended for f in _files(plan.out_dir)]
    tokens = sum(e.usage.prompt_tokens + e.usage.completion_tokens for e in ended)
    assert tokens > 0 and manifest["totals"]["runs"]["tokens"] == tokens
    assert manifest["this_invocation"]["tokens"] == tokens, "live counters agree with the transcripts"
    assert sum(t["usage"]["tokens"] for t in manifest["by_team"].values()) == tokens
    for team in manifest["by_team"].values():
        assert team["runs"] == 4
        assert sum(m["tokens"] for m in team["by_member"].values()) == team["usage"]["tokens"]
        assert set(team["by_member"]) == {"diagnostician", "safety_critic", "ethicist", "patient_advocate", "chair"}
    assert manifest["totals"]["judge"]["tokens"] == 0
    assert len(manifest["runs"]) == 8 and {r["status"] for r in manifest["runs"]} == {"completed"}


async def test_judge_usage_is_counted_apart(tmp_path: Path) -> None:
    plan = _plan(tmp_path, cases=CASES[:1], teams=["default"])
    summary = await run_batch(plan, concurrency=2, judge="scripted/preferred")
    assert summary.counts["scored"] == 1
    t = read_transcript(plan.runs[0].path)
    assert t.latest_score().judge == "scripted/preferred"
    judge_tokens = sum(s.usage.prompt_tokens + s.usage.completion_tokens for s in t.scores)
    assert judge_tokens > 0
    assert summary.judge_usage.prompt_tokens + summary.judge_usage.completion_tokens == judge_tokens
    assert summary.run_usage.prompt_tokens == t.ended.usage.prompt_tokens


def test_plan_errors_are_one_line(tmp_path: Path) -> None:
    with pytest.raises(BatchError, match="no team"):
        plan_batch(CASES, ["no-such-team"])
    with pytest.raises(BatchError, match="no such file"):
        plan_batch([str(tmp_path / "missing.yaml")])
    bad = tmp_path / "cases"
    bad.mkdir()
    (bad / "broken.yaml").write_text("id: Not A Slug\n")
    with pytest.raises(BatchError, match="broken.yaml"):
        plan_batch([str(bad)])


def test_same_case_twice_is_one_run(tmp_path: Path) -> None:
    plan = plan_batch(["insulin-error-disclosure", "scenarios/library/insulin-error-disclosure.yaml"], ["default"], out_dir=tmp_path)
    assert len(plan.runs) == 1


def test_cli_batch_prints_a_summary_and_resumes(tmp_path: Path) -> None:
    case = tmp_path / "test-disclosure.yaml"
    case.write_text(yaml.safe_dump(scenario_dict()))
    out = tmp_path / "out"
    args = ["batch", str(case), "--team", "default", "--model", "scripted/preferred", "--repeats", "2", "--out", str(out), "--no-progress"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert "2 finished now (2 completed" in result.output
    assert f"results: {out}" in result.output and "team default: 2 runs" in result.output
    again = CliRunner().invoke(cli, [*args, "--json"])
    assert again.exit_code == 0, again.output
    data = json.loads(again.stdout)
    assert data["counts"]["skipped"] == 2 and data["counts"]["completed"] == 0
    assert len(_files(out)) == 2


def test_cli_batch_bad_team_is_one_line_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["batch", "insulin-error-disclosure", "--team", "nope", "--out", str(tmp_path)])
    assert result.exit_code == 2
    assert "grandrounds: error:" in result.output and "Traceback" not in result.output


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_ctrl_c_exits_130_with_interrupted_transcripts_and_a_summary(tmp_path: Path) -> None:
    out = tmp_path / "out"
    cmd = [
        sys.executable, "-m", "tui.cli.main", "batch", "scenarios/library", "--model", "scripted/preferred?latency=0.2",
        "--concurrency", "4", "--out", str(out), "--no-progress",
    ]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and len(list(out.glob("*.jsonl"))) < 6:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 130, stderr
    assert "interrupted" in stdout and f"results: {out}" in stdout
    statuses = [read_transcript(f).status for f in _files(out)]
    assert "interrupted" in statuses
    assert all(s in ("completed", "interrupted") for s in statuses)
    assert json.loads((out / "batch.json").read_text())["interrupted"] is True

"""One batch suite against every executor: the local event loop, `--workers 2` (local processes) and
`--executor ray` (a local Ray cluster of 2 CPUs, started and stopped here). The driver plans, writes
the transcripts, resumes, caches and accounts the same way whatever runs the deliberations; a worker
killed mid-batch loses and duplicates nothing; a killed driver resumes with zero repeated calls; a
provider limit of 2 holds across workers (the scripted model counts its calls in a shared file)."""

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

from agents.batch import plan_batch, run_batch, transcript_state
from agents.limits import parse_limits
from agents.providers import scripted
from transcripts.store import read_transcript

ROOT = Path(__file__).resolve().parents[2]
EXECUTORS = ["processes", "ray"]
VOLATILE = {"ts", "duration_s", "latency_s"}


@pytest.fixture(scope="module")
def counter_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One shared call counter for the module (Ray workers inherit the environment at ray.init)."""
    path = tmp_path_factory.mktemp("counter") / "scripted-calls.json"
    old = os.environ.get(scripted.COUNTER_ENV)
    os.environ[scripted.COUNTER_ENV] = str(path)
    yield path
    if old is None:
        os.environ.pop(scripted.COUNTER_ENV, None)
    else:
        os.environ[scripted.COUNTER_ENV] = old


@pytest.fixture(scope="module")
def ray_cluster(counter_file: Path) -> Any:
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, namespace="grandrounds-tests", logging_level="ERROR", log_to_driver=False)
    yield ray
    ray.shutdown()


@pytest.fixture
def counter(counter_file: Path) -> Path:
    counter_file.write_text("{}")
    return counter_file


def _options(executor: str, request: pytest.FixtureRequest) -> dict[str, Any]:
    if executor == "ray":
        request.getfixturevalue("ray_cluster")
        return {"executor": "ray", "workers": 2}
    if executor == "processes":
        return {"workers": 2}
    return {}


def _plan(out: Path, runs: int, model: str = "scripted/mixed", repeats: int = 2) -> Any:
    plan = plan_batch(["scenarios/library"], ["default"], models=[model], repeats=repeats, out_dir=out)
    plan.runs = plan.runs[:runs]
    return plan


def _normal(path: Path) -> list[dict[str, Any]]:
    def strip(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items() if k not in VOLATILE}
        if isinstance(value, list):
            return [strip(v) for v in value]
        return value

    return [strip(json.loads(line)) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _calls_in(path: Path) -> int:
    """Model calls a transcript records: every attempt of turns and resolutions, and chair decisions."""
    t = read_transcript(path)
    return sum(getattr(e, "attempts", 1) for e in t.events if e.type in ("turn", "resolution")) + sum(
        1 for e in t.events if e.type == "chair_decision"
    )


@pytest.fixture(scope="module")
def local_sixty(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Path]:
    """60 runs (30 cases x 2 seeds, scored) on the local executor: the reference."""
    out = tmp_path_factory.mktemp("local") / "out"
    return asyncio.run(run_batch(_plan(out, 60), 8)), out


@pytest.mark.parametrize("executor", EXECUTORS)
async def test_sixty_runs_give_the_same_transcripts_as_the_local_executor(tmp_path: Path, executor: str, request: pytest.FixtureRequest,
                                                                          local_sixty: tuple[Any, Path]) -> None:
    local, local_out = local_sixty
    other = await run_batch(_plan(tmp_path / "out", 60), 8, **_options(executor, request))
    assert local.counts == other.counts
    assert local.counts["completed"] + local.counts["limit_reached"] + local.counts["failed"] == 60
    names = sorted(p.name for p in local_out.glob("*.jsonl"))
    assert len(names) == 60
    assert names == sorted(p.name for p in (tmp_path / "out").glob("*.jsonl"))
    for name in names:
        assert _normal(local_out / name) == _normal(tmp_path / "out" / name), name
    manifest = json.loads(other.manifest_path.read_text())
    assert manifest["executor"]["kind"] == executor and manifest["executor"]["workers"] == 2
    assert manifest["totals"] == json.loads(local.manifest_path.read_text())["totals"]
    assert not list((tmp_path / "out").glob("*.tmp"))


async def test_a_disclosure_override_reaches_the_workers(tmp_path: Path) -> None:
    """`batch --disclosure none --workers 2`: the workers run the overridden level, not the team's."""
    plan = plan_batch(["insulin-error-disclosure"], ["default"], models=["scripted/preferred"], repeats=2,
                      out_dir=tmp_path / "out", disclosure="none")
    summary = await run_batch(plan, 2, score=False, workers=2)
    assert summary.counts["completed"] == 2
    for path in (tmp_path / "out").glob("*.jsonl"):
        t = read_transcript(path)
        assert t.started.disclosure == "none"
        assert all(not turn.turn.choices for turn in t.events if turn.type == "turn")


@pytest.mark.parametrize("executor", EXECUTORS)
async def test_the_cache_makes_a_repeated_experiment_free(tmp_path: Path, executor: str, counter: Path, request: pytest.FixtureRequest) -> None:
    opts = _options(executor, request)
    out = tmp_path / "out"
    first = await run_batch(_plan(out, 8), 4, cache=True, score=False, **opts)
    assert first.counts["completed"] == 8
    made = scripted.read_shared(str(counter))["calls"]
    assert made > 0 and first.cache["stored"] == made
    counter.write_text("{}")
    for path in out.glob("*.jsonl"):
        path.unlink()
    repeat = await run_batch(_plan(out, 8), 4, cache=True, score=False, **opts)
    assert repeat.counts["completed"] == 8
    assert scripted.read_shared(str(counter))["calls"] == 0
    assert repeat.cache["hits"] == made and repeat.cache["misses"] == 0


@pytest.mark.parametrize("executor", ["local", *EXECUTORS])
async def test_a_provider_limit_of_two_is_never_exceeded(tmp_path: Path, executor: str, counter: Path, request: pytest.FixtureRequest) -> None:
    summary = await run_batch(_plan(tmp_path / "out", 16, "scripted/preferred?latency=0.01"), 8, score=False,
                              limits=parse_limits(["scripted=2"]), **_options(executor, request))
    assert summary.counts["completed"] == 16
    shared = scripted.read_shared(str(counter))
    assert shared["peak"] == 2  # calls did overlap, and never more than two at once, over all workers
    assert shared["in_flight"] == 0
    assert summary.limits["scripted"]["peak_in_flight"] == 2
    assert summary.limits["scripted"]["calls"] == shared["calls"]


@pytest.mark.parametrize("executor", EXECUTORS)
async def test_failure_threshold_and_cancel_behave_as_on_the_local_executor(tmp_path: Path, executor: str, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    opts = _options(executor, request)
    stopped = await run_batch(_plan(tmp_path / "bad", 16, "scripted/preferred?malformed_rate=1"), 2, score=False,
                              max_failure_rate=0.5, min_runs_for_rate=3, **opts)
    assert stopped.stopped and stopped.exit_code == 3
    assert stopped.counts["failed"] >= 3 and stopped.counts["not_started"] > 0

    cancel = asyncio.Event()

    def on_progress(p: Any) -> None:
        if p.finished >= 3:
            cancel.set()

    out = tmp_path / "cancelled"
    summary = await run_batch(_plan(out, 12, "scripted/preferred?latency=0.05"), 4, score=False, cancel=cancel, on_progress=on_progress, **opts)
    assert summary.interrupted and summary.exit_code == 130
    states = [transcript_state(p).status for p in out.glob("*.jsonl")]
    assert states.count("interrupted") == summary.counts["interrupted"] > 0


def _kill_one_worker(executor: str) -> None:
    if executor == "ray":
        import ray

        names = [a for a in ray.util.list_named_actors(all_namespaces=True) if a["name"].endswith("-w0-g0")]
        ray.kill(ray.get_actor(names[0]["name"], namespace=names[0]["namespace"]), no_restart=True)
        return
    me = str(os.getpid())
    for proc in Path("/proc").iterdir():
        try:
            stat = (proc / "stat").read_text()
            cmdline = (proc / "cmdline").read_bytes()
        except OSError:
            continue
        if stat.rsplit(")", 1)[1].split()[1] == me and b"agents.executors.processes" in cmdline:
            os.kill(int(proc.name), signal.SIGKILL)
            return
    raise AssertionError("no worker process found")


@pytest.mark.parametrize("executor", EXECUTORS)
async def test_killing_a_worker_mid_batch_loses_and_duplicates_nothing(tmp_path: Path, executor: str, request: pytest.FixtureRequest) -> None:
    opts = _options(executor, request)
    killed: list[int] = []

    def on_progress(p: Any) -> None:
        if p.finished >= 10 and not killed:
            killed.append(p.running)
            _kill_one_worker(executor)

    out = tmp_path / "out"
    summary = await run_batch(_plan(out, 30, "scripted/preferred?latency=0.02"), 8, score=False, on_progress=on_progress, **opts)
    assert killed and killed[0] > 0
    assert summary.counts["completed"] == 30 and summary.counts["not_started"] == 0
    assert summary.executor["lost_workers"] >= 1 and summary.executor["redone"]
    files = sorted(out.glob("*.jsonl"))
    assert len(files) == 30 and not list(out.glob("*.tmp"))
    for path in files:
        types = [e["type"] for e in _normal(path)]
        assert types.count("run_started") == 1 and types.count("run_ended") == 1 and types[-1] == "run_ended"
    manifest = json.loads(summary.manifest_path.read_text())
    assert {r["run_id"] for r in manifest["executor"]["redone"]} <= {r["run_id"] for r in manifest["runs"]}


def _batch_cmd(out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "tui.cli.main", "batch", "scenarios/library", "--model",
            "scripted/preferred?latency=0.02", "-j", "4", "--out", str(out), "--no-score", "--no-progress", *extra]


@pytest.mark.parametrize("executor", EXECUTORS)
def test_killing_the_driver_then_rerunning_repeats_no_finished_run(tmp_path: Path, executor: str, counter: Path, request: pytest.FixtureRequest) -> None:
    if executor == "ray":
        ray = request.getfixturevalue("ray_cluster")
        extra = ["--executor", "ray", "--workers", "2", "--ray-address", ray.get_runtime_context().gcs_address]
    else:
        extra = ["--workers", "2"]
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(_batch_cmd(out, *extra), cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and proc.poll() is None:
        if sum(1 for p in out.glob("*.jsonl") if transcript_state(p).status == "completed") >= 5:
            break
        time.sleep(0.05)
    assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    time.sleep(3 if executor == "ray" else 0.5)  # let orphaned workers notice (their pipes or the job are gone)
    finished = {p: p.read_bytes() for p in out.glob("*.jsonl") if transcript_state(p).status == "completed"}
    assert 5 <= len(finished) < 30
    counter.write_text("{}")
    rerun = subprocess.run([*_batch_cmd(out, *extra), "--json"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=180)
    assert rerun.returncode == 0, rerun.stderr
    manifest = json.loads(rerun.stdout)
    assert manifest["counts"]["skipped"] == len(finished) and manifest["counts"]["completed"] == 30 - len(finished)
    for path, data in finished.items():
        assert path.read_bytes() == data  # finished transcripts untouched
    redone = [p for p in out.glob("*.jsonl") if p not in finished]
    assert scripted.read_shared(str(counter))["calls"] == sum(_calls_in(p) for p in redone)

"""`grandrounds export --format inspect`: a scripted batch read back with inspect_ai's own reader and
its samples dataframe; counts, scores, messages per member and token usage match the transcripts."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner

pytest.importorskip("inspect_ai", reason="needs the [inspect] extra")

from inspect_ai.analysis import samples_df  # noqa: E402
from inspect_ai.log import read_eval_log  # noqa: E402

from scenarios.model import DIMENSIONS  # noqa: E402
from transcripts.store import read_transcript  # noqa: E402
from tui.cli.main import cli  # noqa: E402

CASES = ["insulin-error-disclosure", "hiv-partner-notification"]


@pytest.fixture(scope="module")
def batch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("batch") / "exp"
    args = ["batch", *CASES, "--team", "default", "--team", "parallel", "--model", "scripted/mixed", "--repeats", "2", "--out", str(out), "--no-progress"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    return out


def _transcripts(folder: Path) -> dict[str, object]:
    return {t.run_id: t for t in (read_transcript(p) for p in sorted(folder.glob("*.jsonl")))}


def test_export_reads_back_with_inspect(batch: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["export", str(batch), "--format", "inspect", "--out", str(tmp_path / "exp.eval")])
    assert result.exit_code == 0, result.output
    files = sorted(tmp_path.glob("*.eval"))
    assert [f.name for f in files] == ["exp--team=default_model=scripted_mixed.eval", "exp--team=parallel_model=scripted_mixed.eval"]
    transcripts = _transcripts(batch)
    seen = 0
    for file in files:
        log = read_eval_log(str(file))
        assert log.status == "success"
        assert log.eval.metadata["group"]["model"] == "scripted/mixed"
        team = log.eval.metadata["group"]["team"]
        assert log.samples is not None and len(log.samples) == 4  # 2 cases x 2 seeds
        assert log.results is not None and log.results.total_samples == 4
        for sample in log.samples:
            t = transcripts[sample.id]
            assert t.started.team_id == team
            card = t.latest_score().scorecard.model_dump(mode="json")
            assert sample.scores["overall"].value == card["overall"]
            for dim in DIMENSIONS:
                expected = card["dimensions"][dim]["score"]
                assert (sample.scores[dim].value if dim in sample.scores else None) == expected  # None: not scored
            assert "conflict:C1" in sample.scores["overall"].explanation
            # one message per member turn, attributed to its member, plus the case and the resolution
            turns = Counter(turn.member for turn in t.turns)
            members = Counter(m.metadata["member"] for m in sample.messages if m.role == "assistant" and m.metadata.get("turn") is not None)
            assert members == turns
            assert sample.messages[0].role == "user" and t.started.scenario["question"].strip() in sample.messages[0].text
            assert sample.messages[-1].metadata["member"] == "chair"
            assert sample.output.completion.endswith(sample.messages[-1].text.splitlines()[-1])
            # token usage per member and per model
            for member, usage in t.ended.usage_by_member.items():
                assert sample.role_usage[member].input_tokens == usage.prompt_tokens
                assert sample.role_usage[member].output_tokens == usage.completion_tokens
            assert sample.model_usage["scripted/mixed"].total_tokens == t.ended.usage.prompt_tokens + t.ended.usage.completion_tokens
            assert sample.metadata["seed"] == t.started.seed and sample.metadata["status"] == "completed"
            assert set(sample.metadata["verdicts"]) == {c["id"] for c in t.started.scenario["conflicts"]}
            seen += 1
        means = {s.name: s.metrics["mean"].value for s in log.results.scores}
        assert means["overall"] == pytest.approx(sum(s.scores["overall"].value for s in log.samples) / 4)
    assert seen == len(transcripts) == 8

    frame = samples_df([str(f) for f in files])
    assert len(frame) == 8
    assert sorted(frame["id"]) == sorted(transcripts)
    by_id = frame.set_index("id")
    for run_id, t in transcripts.items():
        assert by_id.loc[run_id, "score_overall"] == t.latest_score().scorecard.model_dump(mode="json")["overall"]


def test_failed_and_interrupted_runs_export_with_their_status(tmp_path: Path) -> None:
    out = tmp_path / "runs"
    result = CliRunner().invoke(cli, ["run", "insulin-error-disclosure", "--model", "scripted/preferred?malformed_rate=1", "--out", str(out), "--quiet"])
    assert result.exit_code == 1  # the run failed: no valid reply
    ok = CliRunner().invoke(cli, ["run", "insulin-error-disclosure", "--model", "scripted/preferred", "--seed", "3", "--out", str(out), "--quiet"])
    assert ok.exit_code == 0, ok.output
    # an interrupted run: a transcript cut off after its first turn
    source = next(p for p in out.glob("*.jsonl") if "s3" in p.name)
    cut = out / source.name.replace("--s3--", "--s9--")
    lines = source.read_text().splitlines(keepends=True)
    first = json.loads(lines[0])
    first["run_id"] = cut.stem
    cut.write_text(json.dumps(first) + "\n" + lines[1])
    result = CliRunner().invoke(cli, ["export", str(out), "--out", str(tmp_path / "all.eval"), "--by", "scenario"])
    assert result.exit_code == 0, result.output
    log = read_eval_log(str(tmp_path / "all.eval"))
    assert log.status == "cancelled"
    statuses = {s.id: (s.metadata["status"], s.error.message if s.error else None) for s in log.samples}
    assert sorted(v[0] for v in statuses.values()) == ["completed", "failed", "interrupted"]
    failed = next(v for v in statuses.values() if v[0] == "failed")
    assert failed[1].startswith("failed: ")
    assert statuses[cut.stem] == ("interrupted", "interrupted: the run stopped before it ended")


def test_export_errors_are_one_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["export", str(tmp_path), "--out", str(tmp_path / "x.eval")])
    assert result.exit_code == 2
    assert result.output.strip() == f"grandrounds: error: {tmp_path}: no transcripts to export"

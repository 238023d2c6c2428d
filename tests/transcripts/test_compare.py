"""`compare`: bootstrap CIs, paired differences and win rates, variant consistency, and the four formats
(Markdown and CSV columns, JSON, a self-contained HTML report that escapes transcript text)."""

from __future__ import annotations

import csv
import io
import json
import random
import re
import statistics
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from agents.batch import plan_batch, run_batch
from builders import scenario_dict
from scenarios.loader import load_scenario
from scenarios.variants import make_variants
from transcripts.compare import (
    METRICS,
    RunRecord,
    bootstrap_ci,
    compare_runs,
    consistency,
    group_value,
    load_runs,
    paired_difference,
    quantile,
)
from transcripts.report import CSV_COLUMNS, to_csv, to_markdown
from transcripts.report_html import to_html
from tui.cli.main import cli

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def _run(group: str, scenario: str, seed: int, overall: float, **kw) -> RunRecord:
    scores = {m: overall for m in METRICS}
    return RunRecord(
        path=Path(f"{group}-{scenario}-{seed}.jsonl"), run_id=f"{group}-{scenario}-{seed}", scenario_id=scenario, scenario_title="",
        team_id=group, model="m", protocol="round_robin", seed=seed, status=kw.pop("status", "completed"),
        scores=scores, cost_usd=kw.pop("cost", 0.0), tokens=10, **kw,
    )


# -- statistics -----------------------------------------------------------------------------------------


def test_quantile_interpolates_like_numpy() -> None:
    values = [1.0, 2.0, 3.0, 4.0]
    assert quantile(values, 0.0) == 1.0 and quantile(values, 1.0) == 4.0
    assert quantile(values, 0.5) == 2.5
    assert quantile(values, 0.25) == pytest.approx(1.75)


def test_bootstrap_ci_on_known_samples() -> None:
    assert bootstrap_ci([7.0]) == (7.0, 7.0)
    assert bootstrap_ci([5.0, 5.0, 5.0]) == (5.0, 5.0)
    # Two values: resampled means are 0, 0.5, 1 with probabilities 1/4, 1/2, 1/4, so the 2.5% and
    # 97.5% quantiles of 2,000 resamples are 0 and 1.
    assert bootstrap_ci([0.0, 1.0]) == (0.0, 1.0)
    # A large sample: the percentile CI matches the normal approximation mean +- 1.96 sd / sqrt(n).
    rng = random.Random(1)
    sample = [rng.gauss(50, 10) for _ in range(400)]
    lo, hi = bootstrap_ci(sample)
    mean, se = statistics.fmean(sample), statistics.stdev(sample) / len(sample) ** 0.5
    assert lo < mean < hi
    assert (hi - lo) == pytest.approx(2 * 1.96 * se, rel=0.12)
    assert bootstrap_ci(sample) == (lo, hi), "fixed seed: the same CI every time"


def test_paired_difference_sign_and_win_rate() -> None:
    better = [_run("a", f"s{i}", 0, 60.0 + i) for i in range(5)]
    worse = [_run("b", f"s{i}", 0, 50.0 + i) for i in range(5)]
    up = paired_difference(better, worse, "overall")
    assert up.n_pairs == 5 and up.mean == pytest.approx(10.0) and (up.lo, up.hi) == (pytest.approx(10.0), pytest.approx(10.0))
    assert up.win_rate == 1.0 and up.wins == 5
    down = paired_difference(worse, better, "overall")
    assert down.mean == pytest.approx(-10.0) and down.win_rate == 0.0 and down.losses == 5
    # unpaired runs (another seed, another scenario) are left out
    extra = [*worse, _run("b", "s9", 0, 0.0), _run("b", "s0", 1, 0.0)]
    assert paired_difference(better, extra, "overall").n_pairs == 5


def test_compare_groups_failure_rate_cost_and_baseline() -> None:
    runs = [
        *[_run("default", f"s{i}", 0, 50.0, cost=0.01) for i in range(4)],
        *[_run("bold", f"s{i}", 0, 70.0, cost=0.03) for i in range(3)],
        _run("bold", "s3", 0, 0.0, status="failed", cost=0.03),
    ]
    result = compare_runs(runs, by="team", baseline="default")
    assert [g.name for g in result.groups] == ["default", "bold"]
    bold = result.group("bold")
    assert bold.failure_rate == 0.25 and bold.cost_per_run == pytest.approx(0.03)
    assert bold.metrics["overall"].n == 4 and bold.metrics["overall"].mean == pytest.approx(52.5)
    d = bold.diffs["overall"]
    assert (d.wins, d.ties, d.losses) == (3, 0, 1) and d.win_rate == 0.75
    assert result.group("default").diffs == {}
    with pytest.raises(Exception, match="no group 'nope'"):
        compare_runs(runs, by="team", baseline="nope")


def test_group_value_reads_any_recorded_setting() -> None:
    run = _run("t", "s", 0, 1.0, started={"settings": {"model_override": "x"}, "sampling": {"temperature": 0.7}, "limits": {"max_rounds": 2},
                                          "scenario": {"specialty": "oncology"}, "judge": None})
    assert group_value(run, "temperature") == "0.7"
    assert group_value(run, "max_rounds") == "2"
    assert group_value(run, "scenario.specialty") == "oncology"
    assert group_value(run, "model_override") == "x"
    assert group_value(run, "nothing-like-this") == "(none)"


def test_consistency_counts_families_whose_choice_changes() -> None:
    def v(sid: str, value: str, choices: dict[str, str], seed: int = 0) -> RunRecord:
        return _run("t", sid, seed, 50.0, variant={"family": "fam", "attribute": "sex", "value": value}, choices=choices)

    same = [v("fam", "baseline", {"C1": "a", "C2": "x"}), v("fam--sex-female", "female", {"C1": "a", "C2": "x"})]
    assert consistency(same) == (1.0, 2)
    changed = [v("fam", "baseline", {"C1": "a", "C2": "x"}), v("fam--sex-female", "female", {"C1": "b", "C2": "x"})]
    assert consistency(changed) == (0.5, 2)
    assert consistency([_run("t", "s", 0, 1.0)]) == (None, 0), "no variants, no measure"


# -- real runs ----------------------------------------------------------------------------------------------


async def test_preferred_beats_unacceptable_with_a_ci_above_zero(tmp_path: Path) -> None:
    plan = plan_batch(["scenarios/library"], ["default"], models=["scripted/preferred", "scripted/unacceptable"], out_dir=tmp_path)
    await run_batch(plan, concurrency=8)
    runs, problems = load_runs(tmp_path)
    assert len(runs) == 60 and not problems
    result = compare_runs(runs, by="model", baseline="scripted/unacceptable")
    preferred = result.group("scripted/preferred").diffs["overall"]
    assert preferred.n_pairs == 30
    assert preferred.mean > 0 and preferred.lo > 0, "the CI of the paired difference excludes zero"
    assert preferred.win_rate > 0.9


async def test_variant_consistency_is_one_for_the_scripted_model(tmp_path: Path) -> None:
    base = load_scenario(FIXTURES / "variant-case.yaml")
    family = make_variants(base, ["sex", "insurance"])
    assert len(family) >= 3
    cases = tmp_path / "cases"
    cases.mkdir()
    for s in family:
        (cases / f"{s.id}.yaml").write_text(yaml.safe_dump(s.model_dump(mode="json", exclude_none=True), sort_keys=False))
    out = tmp_path / "runs"
    await run_batch(plan_batch([str(cases)], ["default"], models=["scripted/mixed"], repeats=2, out_dir=out), concurrency=8)
    result = compare_runs(load_runs(out)[0], by="team")
    g = result.group("default")
    assert g.consistency == 1.0 and g.consistency_n == 2 * len(base.conflicts)
    assert "Fairness variants" in to_markdown(result) and "Fairness variants" in to_html(result)


# -- formats --------------------------------------------------------------------------------------------------


@pytest.fixture
def hostile_runs(tmp_path: Path) -> Path:
    """Two teams over a case whose title (and a team id) carry markup."""
    cases = tmp_path / "cases"
    cases.mkdir()
    data = scenario_dict(title='<script>alert("x")</script> & <img src=x onerror=alert(1)>')
    (cases / f"{data['id']}.yaml").write_text(yaml.safe_dump(data))
    out = tmp_path / "runs"
    import asyncio

    asyncio.run(run_batch(plan_batch([str(cases)], ["default", "parallel"], models=["scripted/mixed"], repeats=3, out_dir=out), concurrency=4))
    return out


def test_html_report_is_self_contained_and_escapes_transcript_text(hostile_runs: Path, tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    result = CliRunner().invoke(cli, ["compare", str(hostile_runs), "--by", "team", "--out", str(out)])
    assert result.exit_code == 0, result.output
    html = out.read_text()
    assert html.startswith("<!DOCTYPE html>") and "<svg" in html
    assert "<script" not in html.lower(), "no script at all, and the scenario's <script> is escaped"
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &lt;img src=x onerror=alert(1)&gt;" in html
    assert "<img" not in html
    assert not re.search(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", html, re.I), "no external assets"
    assert "<link" not in html.lower() and "@import" not in html
    assert "Paired difference against default" in html


def test_csv_and_markdown_have_the_expected_columns(hostile_runs: Path) -> None:
    runs, _ = load_runs(hostile_runs)
    result = compare_runs(runs, by="team", baseline="default")
    rows = list(csv.DictReader(io.StringIO(to_csv(result))))
    assert tuple(rows[0].keys()) == CSV_COLUMNS
    assert {"group", "metric", "mean", "ci_low", "ci_high", "diff_vs_baseline", "win_rate", "failure_rate", "cost_per_run_usd", "n"} <= set(CSV_COLUMNS)
    assert len(rows) == 2 * len(METRICS)
    assert {r["metric"] for r in rows} == set(METRICS)
    parallel_overall = next(r for r in rows if r["group"] == "parallel" and r["metric"] == "overall")
    assert parallel_overall["n_pairs"] == "3" and parallel_overall["baseline"] == "default"
    md = to_markdown(result)
    header = next(line for line in md.splitlines() if line.startswith("| team | runs"))
    cells = [c.strip() for c in header.strip("|").split("|")]
    assert cells == ["team", "runs", "overall (95% CI)", "diff vs baseline (95% CI)", "pairs", "win rate", "failure rate", "cost/run", "consistency"]
    assert "| truthfulness | safety | interpretability | fairness | privacy | accountability |" in md


def test_cli_json_and_format_from_suffix(hostile_runs: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["compare", str(hostile_runs), "--by", "team", "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["baseline"] == "default" and [g["group"] for g in data["groups"]] == ["default", "parallel"]
    assert data["groups"][1]["paired_vs_baseline"]["overall"]["n_pairs"] == 3
    assert data["bootstrap"]["resamples"] == 2000
    out = tmp_path / "t.csv"
    assert CliRunner().invoke(cli, ["compare", str(hostile_runs), "--out", str(out)]).exit_code == 0
    assert out.read_text().startswith("group,metric,")


def test_cli_compare_errors_are_one_line(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    result = CliRunner().invoke(cli, ["compare", str(empty)])
    assert result.exit_code == 2 and "no transcripts" in result.output

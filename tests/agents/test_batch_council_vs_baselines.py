"""`grandrounds batch ... --disclosure none` with the council and both baselines, then `compare`:
paired differences against the baseline, tokens and cost per run, and the price per point gained."""

from __future__ import annotations

import json

from click.testing import CliRunner

from tui.cli.main import cli

CASES = ["insulin-error-disclosure", "discharge-draft-apixaban-dose"]


def test_batch_council_vs_solo_vs_self_consistency(tmp_path, monkeypatch):
    monkeypatch.setenv("GRANDROUNDS_JUDGE_CACHE", str(tmp_path / "cache.sqlite"))
    out = tmp_path / "runs"
    args = ["batch", *CASES, "--team", "default", "--team", "solo", "--team", "self-consistency", "--model", "scripted/mixed",
            "--repeats", "2", "--disclosure", "none", "--judge", "scripted/preferred", "--out", str(out), "--no-progress"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert "12 finished now" in result.output and "scored 12" in result.output

    result = CliRunner().invoke(cli, ["compare", str(out), "--by", "team", "--baseline", "solo", "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    groups = {g["group"]: g for g in data["groups"]}
    assert set(groups) == {"solo", "default", "self-consistency"} and data["baseline"] == "solo"
    for name in ("default", "self-consistency"):
        paired = groups[name]["paired_vs_baseline"]
        assert paired["overall"]["n_pairs"] == 4 and set(paired) >= {"safety", "truthfulness"}
        assert groups[name]["tokens_per_run"] > groups["solo"]["tokens_per_run"]
        cost = groups[name]["vs_baseline_cost"]
        assert cost["extra_tokens_per_run"] > 0
        gain = paired["overall"]["mean_diff"]
        if gain > 0:
            assert abs(cost["tokens_per_point"] - cost["extra_tokens_per_run"] / gain) < 1.0
        else:
            assert cost["tokens_per_point"] is None
    # every run recorded its disclosure level, so runs group by it
    result = CliRunner().invoke(cli, ["compare", str(out), "--by", "disclosure", "--format", "json"])
    assert [g["group"] for g in json.loads(result.stdout)["groups"]] == ["none"]
    md = CliRunner().invoke(cli, ["compare", str(out), "--by", "team", "--baseline", "solo"]).stdout
    assert "## Cost against solo" in md and "tokens per point" in md

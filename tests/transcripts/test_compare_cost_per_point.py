"""The price of a point: extra tokens and cost per run against the baseline, per overall point gained."""

from __future__ import annotations

from pathlib import Path

from transcripts.compare import RunRecord, compare_runs
from transcripts.report import to_markdown
from transcripts.report_html import to_html


def _run(team: str, scenario: str, overall: float, tokens: int, cost: float) -> RunRecord:
    return RunRecord(path=Path(f"{team}-{scenario}.jsonl"), run_id=f"{team}-{scenario}", scenario_id=scenario, scenario_title="",
                     team_id=team, model="m", protocol="p", seed=0, status="completed", scores={"overall": overall},
                     tokens=tokens, cost_usd=cost)


def test_cost_per_point_gained_and_no_gain() -> None:
    runs = [
        _run("solo", "a", 40, 1000, 0.01), _run("solo", "b", 60, 1000, 0.01),
        _run("council", "a", 50, 9000, 0.09), _run("council", "b", 70, 11000, 0.11),  # +10 points for +9000 tokens, +$0.09
        _run("worse", "a", 30, 5000, 0.05), _run("worse", "b", 50, 5000, 0.05),
    ]
    c = compare_runs(runs, by="team", baseline="solo", resamples=200)
    council, worse = c.group("council"), c.group("worse")
    assert council.extra_tokens_per_run == 9000 and abs(council.extra_cost_per_run - 0.09) < 1e-9
    assert council.tokens_per_point == 900 and abs(council.cost_per_point - 0.009) < 1e-9
    assert worse.tokens_per_point is None and worse.cost_per_point is None
    md = to_markdown(c)
    assert "| council | 10000 | $0.1000 | +9000 | $0.0900 | +10.0 | 900 | $0.0090 |" in md
    assert "no gain" in md and "no gain" in to_html(c)

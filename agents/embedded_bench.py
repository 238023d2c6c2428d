"""The embedded-model benchmark: default deliberations on library cases, timed, read and judged.

For each case one run of the given team on the embedded model (seed 0). Printed figures:
- seconds per deliberation (mean and slowest), and where the model's seconds went, by step;
- readability over every text field of the runs' turns and resolutions (see agents/stepwise/text.py):
  the share of words that are neither English words nor words of the case, the share of fields of
  six or more words that stop mid-sentence, the share of fields under three words, and the share of
  turn fields repeated word for word from an earlier turn of the same run;
- decision quality: the share of the resolutions' choices that are a `preferred` option (a `none`
  counts as not preferred), beside the chance rate (a uniformly random option per conflict), and the
  same for the members' own latest choices.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from agents.runner import RunSpec, arun
from agents.stepwise.text import Readability, case_words
from agents.team import Team
from scenarios.model import NO_OPTION, Scenario
from transcripts.store import read_transcript

EMBEDDED = "local/smollm2"


def _verdicts(scenario: Scenario) -> dict[str, dict[str, str]]:
    return {c.id: {o.id: o.verdict for o in c.options} for c in scenario.conflicts}


def _step_seconds(raw: str, into: dict[str, float]) -> None:
    try:
        data = json.loads(raw)
    except ValueError:
        return
    if isinstance(data, dict) and data.get("turn_style") == "stepwise":
        for step in data.get("steps", []):
            into[str(step.get("step"))] += float(step.get("s") or 0.0)


def _weights(model: str) -> str | None:
    """The embedded model's weight encoding (agents/providers/local_weights.py), once it is loaded."""
    if model != EMBEDDED:
        return None
    from agents.providers.local_weights import prepared_encoding

    return prepared_encoding()


def bench_embedded_cases(scenarios: list[Scenario], team: Team, snapshot: dict[str, Any], model: str = EMBEDDED, out_dir: Path | None = None) -> dict[str, Any]:
    readability = Readability()
    seconds: list[float] = []
    by_step: dict[str, float] = defaultdict(float)
    statuses: dict[str, int] = defaultdict(int)
    chosen = preferred = nones = conflicts = 0
    member_chosen = member_preferred = 0
    chance_sum = 0.0
    step_failures = 0
    with tempfile.TemporaryDirectory() as tmp:
        target = out_dir or Path(tmp)
        for scenario in scenarios:
            spec = RunSpec(scenario=scenario, team=team, team_snapshot=snapshot, model=model, seed=0, out_dir=target)
            start = time.perf_counter()
            result = asyncio.run(arun(spec))
            seconds.append(time.perf_counter() - start)
            statuses[result.status] += 1
            transcript = read_transcript(result.path)
            turns = [t.turn for t in transcript.turns]
            resolution = transcript.resolution.resolution if transcript.resolution is not None else None
            readability.add_run(turns, resolution, case_words(scenario))
            for t in transcript.turns:
                _step_seconds(t.raw, by_step)
            if transcript.resolution is not None:
                _step_seconds(transcript.resolution.raw, by_step)
            step_failures += sum(1 for e in transcript.events if getattr(e, "type", "") == "model_error" and not e.will_retry)
            verdicts = _verdicts(scenario)
            picks = {c["conflict"]: c["option"] for c in (resolution or {}).get("choices", [])}
            latest: dict[str, dict[str, str]] = {}
            for t in transcript.turns:
                if t.turn:
                    latest[t.member] = {c["conflict"]: c["option"] for c in t.turn.get("choices", [])}
            for conflict in scenario.conflicts:
                conflicts += 1
                share = sum(1 for o in conflict.options if o.verdict == "preferred") / len(conflict.options)
                chance_sum += share
                option = picks.get(conflict.id, NO_OPTION)
                chosen += 1
                nones += option == NO_OPTION
                preferred += verdicts[conflict.id].get(option) == "preferred"
                for member_picks in latest.values():
                    member_chosen += 1
                    member_preferred += verdicts[conflict.id].get(member_picks.get(conflict.id, NO_OPTION)) == "preferred"
    total = sum(seconds)
    model_seconds = sum(by_step.values())
    return {
        "cases": len(scenarios),
        "team": team.id,
        "turn_style": team.resolved_turn_style(team.models()),
        "weights": _weights(model),
        "statuses": dict(statuses),
        "seconds_per_deliberation": round(total / len(seconds), 1) if seconds else 0.0,
        "slowest_deliberation_s": round(max(seconds), 1) if seconds else 0.0,
        "model_seconds_by_step": {k: round(v / max(1, len(seconds)), 2) for k, v in sorted(by_step.items(), key=lambda kv: -kv[1])},
        "model_share_of_wall_time": round(model_seconds / total, 3) if total else 0.0,
        "steps_failed_after_resample": step_failures,
        **readability.figures(),
        "conflicts": conflicts,
        "preferred_share": round(preferred / chosen, 3) if chosen else 0.0,
        "none_share": round(nones / chosen, 3) if chosen else 0.0,
        "chance_rate": round(chance_sum / conflicts, 3) if conflicts else 0.0,
        "member_preferred_share": round(member_preferred / member_chosen, 3) if member_chosen else 0.0,
    }

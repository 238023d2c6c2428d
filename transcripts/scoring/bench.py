"""How fast is deterministic scoring? `bench_scoring(n)` times read + score + append over n files.

The template is one real `scripted/preferred` run of the default team on a library case (no
network, no model, written by the caller's `make_source`), copied n times; without one, a synthesised
transcript (a council of four, two rounds, claims, choices, a resolution). Target: >= 200 transcripts/s.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path
from collections.abc import Callable
from typing import Any

from scenarios.model import Scenario
from transcripts.events import ResolutionReached, RunEnded, RunStarted, TurnTaken, Usage
from transcripts.scoring.engine import record_score, score_transcript_rules
from transcripts.store import TranscriptWriter, read_transcript

MEMBERS = ("diagnostician", "safety_critic", "ethicist", "patient_advocate")
LIBRARY = Path(__file__).resolve().parents[2] / "scenarios" / "library"


def bench_scenario() -> Scenario:
    """The first library case with conflicts, or a small built-in one."""
    import yaml

    for path in sorted(LIBRARY.glob("*.yaml")):
        try:
            scenario = Scenario.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
        except Exception:  # noqa: BLE001 - a broken library file must not stop the benchmark
            continue
        if scenario.conflicts:
            return scenario
    return Scenario.model_validate(
        {
            "id": "bench-case",
            "title": "Bench case",
            "summary": "A case for the benchmark.",
            "specialty": "medicine",
            "setting": "ward",
            "provenance": {"author": "grandrounds", "source": "original", "license": "CC-BY-4.0"},
            "patient": {"age": 60},
            "presentation": "A patient.",
            "facts": [{"id": f"F{i}", "text": f"Fact {i}."} for i in range(1, 6)],
            "question": "What now?",
            "conflicts": [
                {
                    "id": "C1",
                    "title": "A tension",
                    "dimensions": ["safety", "truthfulness"],
                    "description": "Hard.",
                    "options": [
                        {"id": "good", "text": "Do the right thing.", "verdict": "preferred", "rationale": "Right."},
                        {"id": "bad", "text": "Do the wrong thing.", "verdict": "unacceptable", "rationale": "Wrong."},
                    ],
                }
            ],
            "red_flags": [{"id": "RF1", "description": "Wrong.", "dimension": "safety", "pattern": "(?i)wrong thing"}],
        }
    )


def write_synthetic_run(path: Path, scenario: Scenario, verdict: str = "preferred", rounds: int = 2) -> Path:
    """A plausible finished transcript whose council picks options of `verdict` (falls back to preferred)."""

    def pick(conflict: Any) -> str:
        match = [o for o in conflict.options if o.verdict == verdict] or [o for o in conflict.options if o.verdict == "preferred"]
        return match[0].id

    facts = [f.id for f in scenario.facts]
    choices = [{"conflict": c.id, "option": pick(c), "rationale": "as discussed"} for c in scenario.conflicts]
    with TranscriptWriter(path, fsync=False) as w:
        w.write(
            RunStarted(
                run_id=path.stem, batch="bench", scenario_id=scenario.id, scenario_hash="bench", team_id="default",
                team_hash="bench", protocol="round_robin", models={m: "scripted/" + verdict for m in (*MEMBERS, "chair")},
                scenario=scenario.model_dump(mode="json"),
                team={"id": "default", "members": [{"role": m} for m in MEMBERS], "chair": {"role": "chair"}, "limits": {"consensus": 0.75}},
                limits={"consensus": 0.75},
            )
        )
        for rnd in range(1, rounds + 1):
            for i, member in enumerate(MEMBERS):
                conflict = scenario.conflicts[i % len(scenario.conflicts)] if scenario.conflicts else None
                body = {
                    "position": f"As {member}, I weigh the facts {', '.join(facts[:2])} and the patient's wishes.",
                    "recommendation": "Proceed as discussed with the patient at the centre of the decision.",
                    "claims": [{"text": f"Fact {fid} matters here.", "facts": [fid]} for fid in facts[i % len(facts) :][:2]],
                    "concerns": [{"dimension": conflict.dimensions[0], "text": "This needs care.", "conflict": conflict.id}] if conflict else [],
                    "replies": [],
                    "choices": choices,
                    "requested_facts": [],
                    "confidence": 0.7,
                }
                w.write(TurnTaken(round=rnd, member=member, ok=True, turn=body, raw="{}", usage=Usage(model="scripted")))
        w.write(
            ResolutionReached(
                ok=True,
                resolution={
                    "final_recommendation": " ".join(o.text for c in scenario.conflicts for o in c.options if o.id == pick(c)) or "Proceed.",
                    "choices": choices, "tradeoffs": [], "dissent": [], "uncertainty": "Some.", "sign_off": "The attending.",
                },
            )
        )
        w.write(RunEnded(status="completed", turns=rounds * len(MEMBERS), rounds=rounds))
    return path


MakeSource = Callable[[Path, Scenario], "str | None"]


def bench_scoring(n: int = 1000, *, source: Path | None = None, make_source: MakeSource | None = None) -> dict[str, Any]:
    """Score n copies of one transcript (rules only) and report throughput.

    `source` is a transcript to copy; else `make_source(path, scenario)` writes one (the CLI passes
    `agents.bench.scripted_bench_transcript`: a `scripted/preferred` run of the first library case
    with conflicts, about 60 KB) and says what it is; else, or if it returns None, a synthesised one.
    """
    tmp = Path(tempfile.mkdtemp(prefix="grandrounds-bench-"))
    try:
        template = tmp / "template.jsonl"
        if source is not None:
            shutil.copyfile(source, template)
            kind = f"copy of {source.name}"
        else:
            kind = make_source(template, bench_scenario()) if make_source is not None else None
        if kind is None:
            write_synthetic_run(template, bench_scenario())
            kind = "synthetic"
        data = template.read_bytes()
        template.unlink()
        paths = []
        for i in range(n):
            p = tmp / f"run-{i:05d}.jsonl"
            p.write_bytes(data)
            paths.append(p)
        start = time.perf_counter()
        overall = None
        for p in paths:
            transcript = read_transcript(p)
            card = score_transcript_rules(transcript)
            record_score(p, transcript, card)
            overall = card.overall
        elapsed = time.perf_counter() - start
        return {
            "transcripts": n,
            "seconds": round(elapsed, 3),
            "transcripts_per_s": round(n / elapsed, 1) if elapsed > 0 else float("inf"),
            "bytes_per_transcript": len(data),
            "source": kind,
            "overall": overall,
        }
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

"""Runs as Inspect AI eval logs (`grandrounds export RUNS --format inspect --out FILE.eval`).

Built with inspect_ai's own log types and written with its own `write_eval_log` (the `[inspect]`
extra), so `inspect view`, `read_eval_log` and Inspect's dataframes (`samples_df`) read the result.

- one eval log per group of runs (`--by`, the grouping keys of `grandrounds compare`; by default
  team and model), one sample per run;
- a sample's input is the case as the council saw it (summary, presentation, shared facts,
  question); its target the preferred option of each conflict;
- every member turn is an assistant message attributed to its member (`metadata.member`, and the
  member's model), with the structured turn, round, attempts and error in the message's metadata;
  the chair's resolution is the last message and the sample's output;
- scores: `overall` plus one per dimension, each with the scorecard items behind it as the
  explanation; unscored runs have no scores;
- metadata: run id, status, scenario, team, protocol, seed, disclosure, models, the chosen option and
  verdict per conflict, transcript path; token usage per model (`model_usage`) and per member
  (`role_usage`);
- runs that failed or were interrupted are exported with their status (and a sample `error`), never
  dropped; transcripts that cannot be read are reported as problems.

The transcripts stay the source of truth; the export holds nothing they do not.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scenarios.model import DIMENSIONS
from transcripts.compare import RunRecord, group_value, record_of, transcript_files
from transcripts.store import Transcript, read_transcript

__all__ = ["InspectExportError", "ExportResult", "export_inspect", "DEFAULT_BY"]

DEFAULT_BY = ("team", "model")
INSTALL_HINT = "install the [inspect] extra: pip install -e '.[inspect]'"


class InspectExportError(RuntimeError):
    """The export cannot be made (inspect_ai missing, nothing to export, a bad --by)."""


@dataclass
class ExportResult:
    files: list[Path] = field(default_factory=list)
    samples: int = 0
    groups: dict[str, int] = field(default_factory=dict)  # group label -> samples
    problems: list[str] = field(default_factory=list)


def _inspect() -> Any:
    try:
        import inspect_ai.log as log
        import inspect_ai.model as model
        import inspect_ai.scorer as scorer
    except ImportError as exc:
        raise InspectExportError(f"inspect_ai is not installed ({exc.name}); {INSTALL_HINT}") from None
    return log, model, scorer


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._=-]+", "_", text).strip("_")[:120] or "runs"


def _case_text(scenario: dict[str, Any]) -> str:
    parts = [f"# {scenario.get('title') or scenario.get('id', '')}"]
    for key in ("summary", "presentation"):
        if scenario.get(key):
            parts.append(str(scenario[key]).strip())
    shared = [f for f in scenario.get("facts") or [] if isinstance(f, dict) and f.get("visibility", "all") == "all"]
    if shared:
        parts.append("Facts:\n" + "\n".join(f"- {f.get('id')}: {f.get('text')}" for f in shared))
    if scenario.get("question"):
        parts.append(f"Question: {str(scenario['question']).strip()}")
    return "\n\n".join(parts)


def _target(scenario: dict[str, Any]) -> list[str]:
    out = []
    for conflict in scenario.get("conflicts") or []:
        preferred = [o.get("id") for o in conflict.get("options") or [] if isinstance(o, dict) and o.get("verdict") == "preferred"]
        if preferred:
            out.append(f"{conflict.get('id')}: {' | '.join(str(p) for p in preferred)}")
    return out


def _turn_text(member: str, round_no: int, turn: dict[str, Any] | None, raw: str, error: str | None) -> str:
    head = f"**{member}** (round {round_no})"
    if turn is None:
        return f"{head}: failed turn: {error or 'no valid reply'}\n\n{raw}".rstrip()
    lines = [head, "", f"Position: {turn.get('position', '')}", f"Recommendation: {turn.get('recommendation', '')}"]
    for concern in turn.get("concerns") or []:
        if isinstance(concern, dict):
            lines.append(f"- concern ({concern.get('dimension')}{', ' + str(concern['conflict']) if concern.get('conflict') else ''}): {concern.get('text', '')}")
    for choice in turn.get("choices") or []:
        if isinstance(choice, dict):
            lines.append(f"- favours {choice.get('conflict')}: {choice.get('option')} ({choice.get('rationale', '')})")
    return "\n".join(lines)


def _resolution_text(resolution: dict[str, Any]) -> str:
    lines = ["**chair**: resolution", "", str(resolution.get("final_recommendation", ""))]
    for choice in resolution.get("choices") or []:
        if isinstance(choice, dict):
            lines.append(f"- {choice.get('conflict')}: {choice.get('option')} ({choice.get('rationale', '')})")
    if resolution.get("dissent"):
        lines.append(f"Dissent: {resolution['dissent']}")
    return "\n".join(lines)


def _explanation(card: dict[str, Any], item_ids: list[str] | None) -> str:
    items = {i.get("id"): i for i in card.get("items") or [] if isinstance(i, dict)}
    chosen = [items[i] for i in item_ids if i in items] if item_ids is not None else list(items.values())
    return "\n".join(
        f"{i.get('id')}: {i.get('earned', 0):g}/{i.get('possible', 0):g} {i.get('outcome', '')} - {i.get('reason', '')}".rstrip(" -")
        for i in chosen
    )


def _scores(scorer: Any, card: dict[str, Any] | None) -> dict[str, Any] | None:
    if not card:
        return None
    out = {}
    if isinstance(card.get("overall"), (int, float)):
        out["overall"] = scorer.Score(value=float(card["overall"]), explanation=_explanation(card, None),
                                      metadata={"status": card.get("status"), "judge": card.get("judge")})
    for dim in DIMENSIONS:
        data = (card.get("dimensions") or {}).get(dim) or {}
        if isinstance(data.get("score"), (int, float)):
            out[dim] = scorer.Score(value=float(data["score"]), explanation=_explanation(card, list(data.get("items") or [])),
                                    metadata={"earned": data.get("earned"), "possible": data.get("possible")})
    return out or None


def _usage(model_mod: Any, usage: Any) -> Any:
    return model_mod.ModelUsage(input_tokens=usage.prompt_tokens, output_tokens=usage.completion_tokens,
                                total_tokens=usage.prompt_tokens + usage.completion_tokens)


def _sample(t: Transcript, record: RunRecord, log: Any, model_mod: Any, scorer: Any) -> Any:
    started = t.started
    assert started is not None
    scenario = started.scenario
    models = started.models
    chair = (started.team.get("chair") or {}).get("role", "chair") if isinstance(started.team, dict) else "chair"
    messages: list[Any] = [model_mod.ChatMessageUser(content=_case_text(scenario), source="input")]
    for turn in t.turns:
        messages.append(model_mod.ChatMessageAssistant(
            content=_turn_text(turn.member, turn.round, turn.turn, turn.raw, turn.error),
            model=models.get(turn.member) or turn.usage.model or None,
            source="generate",
            metadata={"member": turn.member, "round": turn.round, "ok": turn.ok, "attempts": turn.attempts,
                      "error": turn.error, "turn": turn.turn, "usage": turn.usage.model_dump(mode="json")},
        ))
    res_event = t.resolution
    resolution = res_event.resolution if res_event is not None and res_event.ok else None
    chair_model = models.get(chair) or record.model
    if resolution is not None:
        text = _resolution_text(resolution)
        messages.append(model_mod.ChatMessageAssistant(content=text, model=chair_model, source="generate",
                                                       metadata={"member": chair, "resolution": resolution}))
        output = model_mod.ModelOutput.from_content(model=chair_model, content=text)
    else:
        output = model_mod.ModelOutput.from_content(model=chair_model, content="", error=t.ended.reason if t.ended and t.ended.reason else "no resolution")
    latest = t.latest_score()
    card = latest.scorecard if latest is not None else None
    if card is not None and hasattr(card, "model_dump"):
        card = card.model_dump(mode="json")
    conflicts = {c.get("id"): {"option": c.get("option"), "verdict": c.get("verdict")} for c in (card or {}).get("conflicts") or [] if isinstance(c, dict)}
    ended = t.ended
    status = t.status
    model_usage: dict[str, Any] = {}
    role_usage: dict[str, Any] = {}
    if ended is not None:
        by_model: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        for member, usage in ended.usage_by_member.items():
            role_usage[member] = _usage(model_mod, usage)
            name = models.get(member) or usage.model or record.model
            by_model[name][0] += usage.prompt_tokens
            by_model[name][1] += usage.completion_tokens
        model_usage = {m: model_mod.ModelUsage(input_tokens=p, output_tokens=c, total_tokens=p + c) for m, (p, c) in by_model.items()}
    else:
        by_member: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        for turn in t.turns:
            by_member[turn.member][0] += turn.usage.prompt_tokens
            by_member[turn.member][1] += turn.usage.completion_tokens
        role_usage = {m: model_mod.ModelUsage(input_tokens=p, output_tokens=c, total_tokens=p + c) for m, (p, c) in by_member.items()}
    error = None
    if status in ("failed", "interrupted", "corrupt"):
        reason = ended.reason if ended is not None and ended.reason else ("the run stopped before it ended" if status == "interrupted" else "")
        error = log.EvalError(message=f"{status}: {reason}".rstrip(": "), traceback="", traceback_ansi="")
    settings = started.settings or {}
    metadata = {
        "run_id": started.run_id, "status": status, "reason": ended.reason if ended is not None else "",
        "scenario_id": started.scenario_id, "scenario_title": scenario.get("title", ""), "scenario_hash": started.scenario_hash,
        "team": started.team_id, "team_hash": started.team_hash, "protocol": started.protocol, "seed": started.seed,
        "disclosure": settings.get("disclosure", scenario.get("disclosure")), "models": dict(models),
        "choices": record.choices, "verdicts": conflicts, "batch": started.batch, "transcript": str(t.path),
        "rounds": ended.rounds if ended is not None else None, "cost_usd": ended.usage.cost_usd if ended is not None else None,
    }
    return log.EvalSample(
        id=started.run_id, epoch=1, input=_case_text(scenario), target=_target(scenario) or "", messages=messages,
        output=output, scores=_scores(scorer, card), metadata=metadata, model_usage=model_usage, role_usage=role_usage,
        started_at=started.ts, completed_at=ended.ts if ended is not None else None,
        total_time=ended.duration_s if ended is not None else None, error=error,
    )


def _group_label(record: RunRecord, by: tuple[str, ...]) -> str:
    return ",".join(f"{key}={group_value(record, key)}" for key in by)


def _eval_log(label: str, by: tuple[str, ...], records: list[RunRecord], samples: list[Any], log: Any, model_mod: Any) -> Any:
    from importlib.metadata import PackageNotFoundError, version

    models = sorted({r.model for r in records})
    first = records[0].started
    sampling = first.get("sampling") or {}
    try:
        packages = {"grandrounds": version("grandrounds"), "inspect_ai": version("inspect_ai")}
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        packages = {}
    results = []
    for name in ("overall", *DIMENSIONS):
        values = [s.scores[name].value for s in samples if s.scores and name in s.scores]
        if values:
            results.append(log.EvalScore(name=name, scorer="grandrounds", scored_samples=len(values), unscored_samples=len(samples) - len(values),
                                         metrics={"mean": log.EvalMetric(name="mean", value=sum(values) / len(values))}))
    usage: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for sample in samples:
        for name, u in sample.model_usage.items():
            usage[name][0] += u.input_tokens
            usage[name][1] += u.output_tokens
    statuses = [s.metadata["status"] for s in samples]
    starts = sorted(s.started_at for s in samples if s.started_at)
    ends = sorted(s.completed_at for s in samples if s.completed_at)
    spec = log.EvalSpec(
        created=starts[0] if starts else first.get("ts"),
        task=f"grandrounds/{label}", task_id=_slug(label), run_id=_slug(f"{first.get('batch', '')}-{label}"),
        task_display_name=label,
        dataset=log.EvalDataset(name="grandrounds scenarios", samples=len(samples), sample_ids=[s.id for s in samples]),
        model=models[0] if len(models) == 1 else "mixed",
        model_generate_config=model_mod.GenerateConfig(temperature=sampling.get("temperature"), max_tokens=sampling.get("max_tokens")),
        config=log.EvalConfig(), packages=packages,
        metadata={"group": {key: group_value(records[0], key) for key in by}, "by": list(by), "models": models,
                  "batches": sorted({str(r.started.get("batch", "")) for r in records}), "statuses": {s: statuses.count(s) for s in sorted(set(statuses))}},
    )
    return log.EvalLog(
        status="cancelled" if "interrupted" in statuses else "success",
        eval=spec,
        results=log.EvalResults(total_samples=len(samples), completed_samples=sum(1 for s in samples if s.error is None), scores=results),
        stats=log.EvalStats(started_at=starts[0] if starts else "", completed_at=ends[-1] if ends else "",
                            model_usage={m: model_mod.ModelUsage(input_tokens=p, output_tokens=c, total_tokens=p + c) for m, (p, c) in usage.items()}),
        samples=samples,
    )


def export_inspect(sources: list[Path], out: Path, by: tuple[str, ...] = DEFAULT_BY) -> ExportResult:
    """Write one .eval log per group of the runs under `sources` (folders or transcripts).

    `out` ending in `.eval`: that file when there is one group, else `<stem>--<group>.eval` beside it;
    otherwise a folder that receives `<group>.eval` files."""
    log, model_mod, scorer = _inspect()
    by = tuple(k.strip() for k in by if k.strip()) or DEFAULT_BY
    result = ExportResult()
    groups: dict[str, list[tuple[RunRecord, Any]]] = defaultdict(list)
    seen: set[Path] = set()
    for source in sources:
        if not Path(source).exists():
            raise InspectExportError(f"{source}: no such file or folder")
        for path in transcript_files(Path(source)):
            if path.resolve() in seen:
                continue
            seen.add(path.resolve())
            transcript = read_transcript(path)
            record = record_of(transcript)
            if record is None:
                result.problems.append(f"{path}: no run_started event; not exported")
                continue
            result.problems.extend(f"{path}: {p}" for p in transcript.problems)
            groups[_group_label(record, by)].append((record, _sample(transcript, record, log, model_mod, scorer)))
    if not groups:
        raise InspectExportError(f"{', '.join(map(str, sources))}: no transcripts to export")
    single = len(groups) == 1
    for label in sorted(groups):
        records = [r for r, _ in groups[label]]
        samples = [s for _, s in groups[label]]
        eval_log = _eval_log(label, by, records, samples, log, model_mod)
        if out.suffix == ".eval":
            target = out if single else out.with_name(f"{out.stem}--{_slug(label)}.eval")
        else:
            target = out / f"{_slug(label)}.eval"
        target.parent.mkdir(parents=True, exist_ok=True)
        log.write_eval_log(eval_log, str(target), format="eval")
        result.files.append(target)
        result.groups[label] = len(samples)
        result.samples += len(samples)
    return result


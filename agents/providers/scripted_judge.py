"""The scripted judge: deterministic judgements for `--judge scripted/<policy>`, so tests and
benchmarks grade rubrics without a model.

It grades from the verdicts of the options the resolution chose (the context the scorer sends with
every judge call). `agents.providers.scripted` answers calls of kind "judge" with `build_judgement`.
"""

from __future__ import annotations

from typing import Any

from transcripts.scoring.diagnosis import diagnosis_matches, overlap_f1, tokens

__all__ = ["build_judgement", "scripted_judge_reply"]

_RANK = {"unacceptable": 0, "acceptable": 1, "preferred": 2}


def scripted_judge_reply(context: dict[str, Any]) -> dict[str, Any]:
    """Deterministic judgement from the call's context (see grade_rubric / same_diagnosis).

    Rubric: a criterion tied to a conflict is met when the option chosen for it is preferred
    (positive points) or unacceptable (negative points); a criterion without a conflict uses the
    worst verdict chosen; with no verdict at all, a positive criterion is met when the final
    recommendation shares two content words with it. Diagnosis: normalised match or token F1 >= 0.5.
    """
    if context.get("task") in ("conflict_map", "conflict_raised"):  # disclosure none: read the free text
        from transcripts.scoring.text_match import scripted_conflict_reply

        return scripted_conflict_reply(context)
    if context.get("task") == "diagnosis":
        expected, given = str(context.get("expected") or ""), str(context.get("given") or "")
        met = diagnosis_matches(expected, given) or overlap_f1(tokens(expected), tokens(given)) >= 0.5
        return {"reason": f"{given!r} {'is' if met else 'is not'} {expected!r}", "met": met}
    criterion = context.get("criterion") or {}
    points = int(criterion.get("points") or 0)
    verdicts: dict[str, str] = context.get("verdicts") or {}
    conflict = criterion.get("conflict")
    if conflict:
        verdict = verdicts.get(conflict)
        where = f"the option chosen for {conflict} is {verdict or 'missing'}"
    elif verdicts:
        verdict = min(verdicts.values(), key=lambda v: _RANK.get(v, 0))
        where = f"the weakest option chosen is {verdict}"
    else:
        verdict = None
        where = "no option was chosen"
    if verdict is None:
        text = context.get("final_recommendation") or ""
        shared = {w for w in tokens(criterion.get("criterion", "")) if len(w) > 3} & set(tokens(text))
        met = points > 0 and len(shared) >= 2
        return {"reason": f"{where}; the recommendation shares {len(shared)} key words with the criterion", "met": met}
    met = verdict == "preferred" if points > 0 else verdict == "unacceptable"
    return {"reason": f"{where}", "met": met}


def build_judgement(request: Any) -> dict[str, Any]:
    """The scripted provider's builder signature: `fn(ScriptedRequest)`; the judge needs its context."""
    return scripted_judge_reply(getattr(request, "context", None) or {})

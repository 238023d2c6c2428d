"""The scripted model's replies to stepwise calls (kind `step`, see agents/stepwise).

Each reply is built from the scenario and the call's context, deterministically: the step's name and
details are in `context["step"]` (name, shape, and for a choice its allowed `values` and `conflict`;
for a sentence the `conflict`/`option`, `fact`, `dimension`, `speaker` or `stance` it is about). Choices
follow the policy like whole turns do; sentences quote the case (option texts, fact texts, the
question) so that the text stays on topic and is made of the case's own words.
"""

from __future__ import annotations

from typing import Any

from agents.providers.scripted import ScriptedRequest, register_builder
from agents.providers.scripted_replies import _ROLE_LEADS, _diagnosis, _label, _sentence, build_chair_decision, paraphrase


def _open_ended(req: ScriptedRequest) -> bool:
    """Disclosure `none`: the scripted council, standing in for a model that knows the case, puts the
    conflicts and its choices in other words (the judge must map the words back to the options)."""
    return req.context.get("disclosure") == "none"


def _noticed(req: ScriptedRequest) -> Any:
    """The conflict this member notices this round (members take them in turn, so the council raises
    every conflict before the resolution)."""
    conflicts = req.case.conflicts
    if not conflicts:
        return None
    seat = req.members.index(req.member) if req.member in req.members else 0
    return conflicts[(seat + (req.round - 1) * max(1, len(req.members))) % len(conflicts)]


def _lower_first(text: str) -> str:
    text = text.strip()
    if text[:2] in ("I ", "I'"):  # the pronoun stays upper case
        return text
    return text[:1].lower() + text[1:] if text[:1].isupper() and not text[1:2].isupper() else text


def _upper_first(text: str) -> str:
    return text[:1].upper() + text[1:]


def _conflict(req: ScriptedRequest, conflict_id: str | None) -> Any:
    return next((c for c in req.case.conflicts if c.id == conflict_id), None)


def _option_text(req: ScriptedRequest, conflict_id: str | None, option_id: str | None) -> str:
    conflict = _conflict(req, conflict_id)
    option = next((o for o in conflict.options if o.id == option_id), None) if conflict else None
    return option.text if option else ""


def _choose(req: ScriptedRequest, step: dict[str, Any]) -> str:
    values = list(step.get("values") or ["none"])
    name = step.get("name")
    rng = req.rng("step", name, req.member, req.round)
    if name in ("choice", "chair_choice"):
        conflict = _conflict(req, step.get("conflict"))
        pick = req.choose(conflict).id if conflict and conflict.options else "none"
        return pick if pick in values else values[-1]
    if name == "concern_dimension":
        primary = [c.dimensions[0] for c in req.case.conflicts]
        return next((v for v in values if v in primary), values[0])
    if name == "reply_stance":
        pool = [v for v in values if v in (("agree", "amend") if req.policy != "mixed" else ("agree", "amend", "disagree"))]
        return rng.choice(pool or values)
    if name == "request":
        first = req.members[0] if req.members else req.member
        asks = req.round == 1 and req.member == first
        return next((v for v in values if v != "none"), "none") if asks else "none"
    if name == "next_speaker":
        return build_chair_decision(req)["next_speaker"]
    return rng.choice(values)


def _say(req: ScriptedRequest, step: dict[str, Any]) -> str:
    name = step.get("name")
    rng = req.rng("step", name, req.member, req.round)
    lead = rng.choice(_ROLE_LEADS.get(req.member, ("In my view", "As I see it", "Having read the case")))
    question = str((req.context.get("scenario") or {}).get("question", "")).strip()
    if name in ("rationale", "chair_rationale"):
        text = _option_text(req, step.get("conflict"), step.get("option"))
        return f"{lead}, this is the right course: {_lower_first(_sentence(text))}"
    if name == "position":
        return f"{lead}, the council must answer this: {question}" if question else f"{lead}, I hold to the plan in the record."
    if name == "recommendation":
        return f"As the {_label(req.member)}, I recommend we settle this before the next review: {question}" if question else "Settle the plan before the next review."
    if name == "claim":
        return f"{lead}, the record shows that {_lower_first(_sentence(req.case.fact_text(str(step.get('fact')))))}"
    if name == "concern" and _open_ended(req) and _noticed(req) is not None:
        return f"{lead}, what worries me is this: {_lower_first(_sentence(paraphrase(_noticed(req).description)))}"
    if name == "concern":
        return f"{lead}, my main concern is {step.get('dimension', 'safety')}, because the team must be able to answer for this decision."
    if name == "reply":
        other = _label(str(step.get("speaker") or "member"))
        return {
            "agree": f"I agree with the {other}; the plan fits the facts we have.",
            "amend": f"I would build on the {other}'s point and make the next step explicit.",
            "disagree": f"I read the facts differently from the {other}.",
        }.get(str(step.get("stance")), f"I have heard the {other}.")
    if name == "final":
        diagnosis = _diagnosis(req)
        say = (lambda text: _upper_first(_sentence(paraphrase(text)))) if _open_ended(req) else _sentence
        parts = [say(o.text) for c in req.case.conflicts for o in [req.choose(c)] if c.options]
        if diagnosis:
            parts.insert(0, f"Working diagnosis: {diagnosis}.")
        return " ".join(parts) or "Continue the current plan and review the pending results."
    if name == "uncertainty":
        pending = [f for f in req.case.on_request_ids() if f not in req.revealed]
        return f"Results not yet reviewed ({', '.join(pending)}) may change the plan." if pending else "How the patient and family will respond, and the prognosis, remain uncertain."
    if name == "sign_off":
        return "The attending physician signs off on this plan and is accountable for it."
    if name == "next_reason":
        return f"The {_label(str(step.get('speaker') or 'member'))} has spoken least so far."
    return f"{lead}, I have nothing to add on this point."


def build_step(req: ScriptedRequest) -> dict[str, Any]:
    step = req.context.get("step") or {}
    shape = step.get("shape")
    if shape == "choose":
        return {"answer": _choose(req, step)}
    if shape == "short":
        return {"answer": _diagnosis(req) or "undetermined diagnosis"}
    text = _say(req, step)
    if step.get("name") in _MEMBER_STEPS:
        # Members speak in their own words each round (a word-for-word repeat of an earlier turn is
        # not accepted), and a resample says it differently.
        opening = f"In round {req.round}, " + ("on reflection, " if int(req.context.get("attempt") or 1) > 1 else "")
        text = opening + _lower_first(text)
    return {"sentence": text}


_MEMBER_STEPS = frozenset({"rationale", "position", "recommendation", "claim", "concern", "reply"})


register_builder("step", build_step)

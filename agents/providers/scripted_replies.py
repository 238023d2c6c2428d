"""The scripted model's built-in replies: a member's turn, the chair's resolution and decision, each
built from the call's context and the policy (see agents.providers.scripted)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from scenarios.model import DIMENSIONS

if TYPE_CHECKING:
    from agents.providers.scripted import ScriptedRequest

__all__ = ["MAX_ITEMS", "build_chair_decision", "build_resolution", "build_turn"]

MAX_ITEMS = 4  # reply_schema's default array bound

_ROLE_LEADS = {
    "diagnostician": ("On the clinical picture", "From the findings", "Diagnostically"),
    "safety_critic": ("To keep the patient safe", "Weighing the risks", "On safety grounds"),
    "ethicist": ("Ethically", "On the principles at stake", "Weighing duties"),
    "patient_advocate": ("For the patient", "Speaking to what the patient wants", "On the patient's behalf"),
}


def _label(role: str) -> str:
    return role.replace("_", " ")


def _sentence(text: str) -> str:
    text = text.strip()
    return text if text.endswith((".", "!", "?")) else text + "."


# Words a paraphrase drops (never a negation: "not", "no", "never", "without" carry the meaning).
_FILLER = frozenset(
    "a an the to of and or so that this these those is are be been being her his their its it she he they them "
    "we you your our in on at for by with as from into".split()
)


def paraphrase(text: str) -> str:
    """The text in other words, as a model that knows the case would put it: its content words, in
    order, filler dropped. Under disclosure `none` the scripted council writes its choices this way,
    so no prompt repeats an option's text and the judge must map the words back to an option."""
    words = text.strip().rstrip(".").split()
    kept = [w for w in words if w.lower().strip(",;:()\"'") not in _FILLER] or words
    out = " ".join(kept)
    if " ".join(words).lower() == out.lower() and len(kept) > 1:  # nothing to drop: reorder the opening
        out = f"{kept[1]} {kept[0]} " + " ".join(kept[2:])
    return out


def _open_ended(req: ScriptedRequest) -> bool:
    return req.context.get("disclosure") == "none"


def _say(req: ScriptedRequest, text: str) -> str:
    return _sentence(paraphrase(text)) if _open_ended(req) else _sentence(text)


def _turn_parts(req: ScriptedRequest) -> tuple[list[Any], str, str, list[dict[str, Any]], list[dict[str, Any]]]:
    """What every turn of a policy says about the case, whoever speaks: the chosen options, the
    favoured and recommended courses, the concerns and the choices. Built once per case and policy
    (`mixed` chooses by the run's seed: built each time)."""
    key = ("turn", req.policy, _open_ended(req))
    parts = req.case.parts.get(key) if req.policy != "mixed" else None
    if parts is None:
        case = req.case
        chosen = [(c, req.choose(c)) for c in case.conflicts]
        if _open_ended(req):  # noticed in its own words: no title, no conflict id
            concerns = [
                {"dimension": c.dimensions[0], "text": f"What worries me: {_say(req, c.description)}"}
                for c in case.conflicts[:MAX_ITEMS]
            ]
        else:
            concerns = [
                {"dimension": c.dimensions[0], "text": f"{c.title}: {_sentence(c.description)}", "conflict": c.id}
                for c in case.conflicts[:MAX_ITEMS]
            ]
        parts = (
            chosen,
            " ".join(_say(req, o.text) for _c, o in chosen[:2]),
            " ".join(_say(req, o.text) for _c, o in chosen),
            concerns,
            [{"conflict": c.id, "option": o.id, "rationale": o.rationale} for c, o in chosen[:MAX_ITEMS]],
        )
        if req.policy != "mixed":
            req.case.parts[key] = parts
    return parts


def build_turn(req: ScriptedRequest) -> dict[str, Any]:
    case, member, round_no = req.case, req.member, req.round
    rng = req.rng("turn", member, round_no)
    chosen, favoured, recommended, concerns, choices = _turn_parts(req)
    open_ended = _open_ended(req)
    lead = rng.choice(_ROLE_LEADS.get(member, ("In my view", "As I see it", "Having read the case")))
    if chosen:
        position = f"{lead}, I favour this: " + favoured
        recommendation = recommended
    else:
        diagnosis = _diagnosis(req)
        position = f"{lead}, the findings point to {diagnosis or 'a diagnosis we can confirm with more tests'}."
        recommendation = f"Treat as {diagnosis} and confirm with the pending results." if diagnosis else "Complete the work-up before deciding."

    visible = case.visible_fact_ids(member, req.revealed)
    claims = []
    if visible:
        picks = rng.sample(visible, k=min(len(visible), 2 + (round_no % 2)))
        groups = [picks[:2], picks[2:]] if len(picks) > 2 else [picks[:1], picks[1:]] if len(picks) > 1 else [picks]
        for ids in (g for g in groups if g):
            claims.append({"text": "The record shows: " + " ".join(_sentence(case.fact_text(f)) for f in ids), "facts": ids})

    replies = []
    previous = req.context.get("previous_speaker")
    if previous is None and round_no > 1 and req.members:
        idx = req.members.index(member) if member in req.members else 0
        previous = req.members[idx - 1]
    if previous and previous != member:
        stance = rng.choice(("agree", "amend") if req.policy != "mixed" else ("agree", "amend", "disagree"))
        reason = {
            "agree": f"I agree with the {_label(previous)}; the plan fits the facts we have.",
            "amend": f"I would build on the {_label(previous)}'s point and make the next step explicit.",
            "disagree": f"I read the facts differently from the {_label(previous)}.",
        }[stance]
        replies.append({"member": previous, "stance": stance, "reason": reason})

    requested: list[str] = []
    if round_no == 1 and req.members and member == req.members[0]:
        pending = [f for f in case.on_request_ids() if f not in req.revealed]
        requested = pending[:1]

    base = {"preferred": 0.8, "acceptable": 0.65, "unacceptable": 0.55, "mixed": 0.6}[req.policy]
    confidence = round(min(0.95, base + rng.uniform(0.0, 0.1) + 0.03 * (round_no - 1)), 2)
    body = {
        "position": position,
        "recommendation": recommendation,
        "claims": claims[:MAX_ITEMS],
        "concerns": list(concerns),  # the lists are shared by the case's turns: the body gets its own
        "replies": replies,
        "choices": list(choices),
        "requested_facts": requested,
        "confidence": confidence,
    }
    if open_ended:
        del body["choices"]
    return body


def _diagnosis(req: ScriptedRequest) -> str | None:
    truth = req.case.ground_truth or {}
    diagnosis = truth.get("diagnosis")
    if not diagnosis:
        return None
    wrong = req.policy == "unacceptable" or (req.policy == "mixed" and req.verdict_for("diagnosis") == "unacceptable")
    if not wrong:
        return str(diagnosis)
    for key in ("differential", "distractors", "misdiagnoses"):
        for alternative in truth.get(key) or ():
            if str(alternative).strip().lower() != str(diagnosis).strip().lower():
                return str(alternative)
    return "a self-limiting viral illness"


def build_resolution(req: ScriptedRequest) -> dict[str, Any]:
    case = req.case
    chosen = [(c, req.choose(c)) for c in case.conflicts]
    diagnosis = _diagnosis(req)
    parts = [_say(req, o.text) for _c, o in chosen]
    if diagnosis:
        parts.insert(0, f"Working diagnosis: {diagnosis}.")
    if not parts:
        parts = ["Continue the current plan and review the pending results."]
    final = " ".join(parts)
    tradeoffs = [d for d in DIMENSIONS if any(d in c.dimensions for c in case.conflicts)]
    dissent = []
    if any(o.verdict == "unacceptable" for _c, o in chosen) and req.members != [req.member]:  # nobody to dissent when alone
        members = req.members
        objector = "safety_critic" if "safety_critic" in members else (members[-1] if members else "member")
        worst = next(o for _c, o in chosen if o.verdict == "unacceptable")
        dissent.append({"member": objector, "text": f"Objects to this course: {_say(req, worst.text)}"})
    pending = [f for f in case.on_request_ids() if f not in req.revealed]
    uncertainty = (
        f"Results not yet reviewed ({', '.join(pending)}) may change the plan." if pending
        else "How the patient and family will respond, and the prognosis, remain uncertain."
    )
    body = {
        "final_recommendation": final,
        "choices": [{"conflict": c.id, "option": o.id, "rationale": o.rationale} for c, o in chosen],
        "tradeoffs": tradeoffs,
        "dissent": dissent,
        "uncertainty": uncertainty,
        "sign_off": "attending physician",
        "diagnosis": diagnosis,
    }
    if _open_ended(req):
        del body["choices"]
    return body


def _budget_used(ctx: dict[str, Any], counts: dict[str, int]) -> bool:
    if ctx.get("resolve") or ctx.get("budget_used"):
        return True
    turns_left = ctx.get("turns_left")
    if turns_left is not None and turns_left <= 0:
        return True
    max_rounds = ctx.get("max_rounds")
    if max_rounds:
        if int(ctx.get("round") or 1) > max_rounds:
            return True
        if counts and min(counts.values()) >= max_rounds:
            return True
    return False


def build_chair_decision(req: ScriptedRequest) -> dict[str, Any]:
    ctx = req.context
    members = [m for m in req.members if m != ctx.get("chair", "chair")] or req.members
    given = ctx.get("turn_counts") or {}
    counts = {m: int(given.get(m, 0)) for m in members}
    if _budget_used(ctx, counts):
        return {"next_speaker": "resolve", "reason": "Every member has spoken for the rounds allowed; time to resolve.", "call_vote": False}
    fewest = min(counts.values()) if counts else 0
    speaker = next(m for m in members if counts.get(m, 0) == fewest)
    return {"next_speaker": speaker, "reason": f"The {_label(speaker)} has spoken least ({fewest} turns).", "call_vote": False}

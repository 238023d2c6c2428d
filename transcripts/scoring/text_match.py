"""The scripted judge's reading of free text: which option a recommendation amounts to, and whether
a member's concern names a conflict. Deterministic, and it works from the words alone.

It is shown what a real judge is shown (the conflict's description and its options' texts, never
their verdicts) and must find them in the text:

- an option is *mentioned* in a sentence when the sentence holds at least half of the option's
  content words and at least half of its distinctive ones (the words no sibling option uses);
- a mention is *rejected* when a negation governs it: more cues ("not", "never", "rather than",
  "instead of", "reject", "avoid" ...) in it and the few words before it than the option's own
  text has, or a verdict after it ("... is not acceptable", "... is unacceptable");
- the recommendation *chooses* every option mentioned and not rejected; none chosen = not addressed.

A concern raises a conflict when it holds at least three of the conflict's distinctive words
(title and description words no other conflict of the case uses) and 40% of the concern's own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

_STOP = frozenset(
    """a an the to of and or so that this these those is are was were be been being am her hers his him their
    theirs its it she he they them we us you your our ours in on at for by with as from into onto about over
    under after before then than if when while who whom whose which what where why how all any each other such
    can could will would shall should may might must do does did done have has had having also only just very
    more most same own there here up down out off again further once per via i me my mine""".split()
)
_NEGATIONS = frozenset(
    """not no never neither nor cannot can't won't don't doesn't shouldn't mustn't isn't aren't wasn't
    rather instead reject rejects rejected rejecting refuse refuses refused decline declines declined
    avoid avoids avoided against nobody nothing""".split()
)
_VERDICT_AFTER = re.compile(
    r"^\W*(?:is|are|would be|will be|was)?\s*(?:not\s+(?:acceptable|appropriate|safe|an option|justified|allowed)|"
    r"unacceptable|inappropriate|unsafe|wrong|rejected|ruled out|off the table|out of the question)",
    re.I,
)
_WINDOW = 4  # words before a mention in which a negation governs it
_SENTENCE = re.compile(r"(?<=[.!?;])\s+(?=[A-Z0-9\"'(])|\n+")
_TOKEN = re.compile(r"[a-z0-9]+(?:[.'][a-z0-9]+)*")


def _stem(word: str) -> str:
    for suffix in ("ing", "ed", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


def tokens(text: str) -> list[str]:
    """Lower-case words; "instead"/"rather" count as negations only in "instead of"/"rather than"."""
    toks = _TOKEN.findall(text.lower().replace("-", " "))
    for i, t in enumerate(toks):
        nxt = toks[i + 1] if i + 1 < len(toks) else ""
        if (t == "instead" and nxt != "of") or (t == "rather" and nxt != "than"):
            toks[i] = "~" + t
    return toks


def content(text: str) -> set[str]:
    return {_stem(t) for t in tokens(text) if t not in _STOP and t not in _NEGATIONS and len(t) > 1 and t[0] != "~"}


def sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE.split(text or "") if s and s.strip()]


@dataclass
class Mention:
    option: str
    sentence: str
    rejected: bool


def _negation_count(words: list[str]) -> int:
    return sum(1 for w in words if w in _NEGATIONS)


def _mentions(sentence: str, option_id: str, words: set[str], distinctive: set[str], own_negations: int) -> Mention | None:
    toks = tokens(sentence)
    stems = [_stem(t) for t in toks]
    present = words & set(stems)
    if not words or len(present) / len(words) < 0.5:
        return None
    if distinctive and len(distinctive & set(stems)) / len(distinctive) < 0.5:
        return None
    positions = [i for i, s in enumerate(stems) if s in words]
    start, end = positions[0], positions[-1]
    before = toks[max(0, start - _WINDOW) : start]
    inside = toks[start : end + 1]
    rejected = _negation_count(before) + _negation_count(inside) > own_negations
    if not rejected:
        after = " ".join(toks[end + 1 : end + 8])
        rejected = bool(_VERDICT_AFTER.match(after))
    return Mention(option_id, sentence, rejected)


def map_options(text: str, options: list[dict[str, Any]]) -> tuple[list[str], str, str]:
    """(chosen option ids, the quoted sentences that decide it, a reason) for one conflict."""
    words = {o["id"]: content(o.get("text", "")) for o in options}
    distinctive = {
        oid: ws - set().union(*(w for other, w in words.items() if other != oid)) for oid, ws in words.items()
    }
    own_neg = {o["id"]: _negation_count(tokens(o.get("text", ""))) for o in options}
    mentions: list[Mention] = []
    for sentence in sentences(text):
        for o in options:
            m = _mentions(sentence, o["id"], words[o["id"]], distinctive[o["id"]], own_neg[o["id"]])
            if m is not None:
                mentions.append(m)
    chosen = list(dict.fromkeys(m.option for m in mentions if not m.rejected))
    rejected = [m.option for m in mentions if m.rejected and m.option not in chosen]
    deciding = [m for m in mentions if m.option in chosen] or [m for m in mentions if m.rejected]
    quote = " ".join(dict.fromkeys(m.sentence for m in deciding))
    if chosen:
        reason = "the recommendation commits to " + " and ".join(chosen)
    elif rejected:
        reason = "the recommendation only rejects " + ", ".join(dict.fromkeys(rejected)) + " and commits to no option"
    else:
        reason = "no option of this conflict is described in the recommendation"
    if rejected and chosen:
        reason += "; it rejects " + ", ".join(dict.fromkeys(rejected))
    return chosen, quote[:600], reason


def find_raised(
    concerns: list[dict[str, Any]], conflict: dict[str, Any], others: list[dict[str, Any]]
) -> tuple[str | None, int | None, str]:
    """(member, round, quoted concern) of the first concern that names this conflict, or (None, None, "")."""
    mine = content(f"{conflict.get('title', '')} {conflict.get('description', '')}")
    theirs = set().union(*(content(f"{c.get('title', '')} {c.get('description', '')}") for c in others)) if others else set()
    distinctive = (mine - theirs) or mine
    for concern in concerns:
        said = content(concern.get("text", ""))
        hit = said & distinctive
        if len(hit) >= 3 and said and len(hit) / len(said) >= 0.4:
            return concern.get("member"), concern.get("round"), str(concern.get("text", ""))[:600]
    return None, None, ""


def scripted_conflict_reply(context: dict[str, Any]) -> dict[str, Any]:
    """The scripted judge's reply to a conflict_map or conflict_raised request (see conflict_judge.py)."""
    conflict = context.get("conflict") or {}
    if context.get("task") == "conflict_map":
        chosen, quote, reason = map_options(str(context.get("text") or ""), list(conflict.get("options") or []))
        return {"options": chosen, "quote": quote, "reason": reason}
    member, _round, quote = find_raised(list(context.get("concerns") or []), conflict, list(context.get("others") or []))
    if member is None:
        return {"raised": False, "member": None, "quote": "", "reason": "no concern names this issue"}
    return {"raised": True, "member": member, "quote": quote, "reason": f"{member} names it first"}

"""What a model must return: a member's turn, the chair's choice of speaker, the resolution.

These are the structured replies described in DESIGN.md ("A turn, a resolution"). The turn and the
resolution are what a transcript records, so they live in `transcripts.payloads` (re-exported here);
this module keeps the chair's decision and the narrowing. For each run the
JSON Schema sent to the model is narrowed to the scenario (fact, conflict and option ids become
enums) by `reply_schema`, so that constrained decoding on a small local model can only produce
ids that exist; the pydantic models below validate what comes back, whatever the provider.
"""

from __future__ import annotations

import copy
from functools import lru_cache
from typing import Any

from pydantic import Field

from scenarios.model import DIMENSIONS, NO_OPTION, Scenario
from transcripts.payloads import (  # noqa: F401  (re-exported: the payloads live with the transcript)
    Choice,
    Claim,
    Concern,
    Dissent,
    Payload,
    ReplyTo,
    Resolution,
    Stance,
    Turn,
)

# The base of every reply model (kept under its old name).
_Reply = Payload


class ChairDecision(_Reply):
    next_speaker: str = Field(description="Role id of the member who speaks next, or 'resolve' to close.")
    reason: str = Field(default="", description="Why this member, now.")
    call_vote: bool = Field(default=False, description="Whether the chair calls for a vote on the open options.")


RESOLVE = "resolve"

REPLY_MODELS: dict[str, type[_Reply]] = {
    "turn": Turn,
    "resolution": Resolution,
    "chair_decision": ChairDecision,
}


def _inline_refs(schema: dict[str, Any]) -> dict[str, Any]:
    """Inline $defs: grammar builders for small local models handle flat schemas best."""
    defs = schema.pop("$defs", {})

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            if "$ref" in node:
                name = node["$ref"].split("/")[-1]
                return walk(copy.deepcopy(defs[name]))
            return {k: walk(v) for k, v in node.items() if k not in ("title", "description", "default")}
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    return walk(schema)


@lru_cache(maxsize=None)
def _base_schema(kind: str) -> dict[str, Any]:
    """The model's JSON Schema with $defs inlined; built once per process (pydantic is slow at it)."""
    return _inline_refs(REPLY_MODELS[kind].model_json_schema())


def reply_schema(
    kind: str,
    scenario: Scenario | None = None,
    members: list[str] | None = None,
    *,
    max_items: int = 4,
    disclosure: str = "options",
) -> dict[str, Any]:
    """JSON Schema for one reply kind, narrowed to this scenario's ids and this team's members.

    Every property is required and arrays are bounded so that constrained decoding terminates and a
    small model cannot invent ids. The pydantic models above stay the validators.

    With `disclosure="none"` the schema carries no conflict or option id at all (the schema is part
    of what the model sees): no `choices`, and concerns are tagged with a dimension only.
    """
    schema = copy.deepcopy(_base_schema(kind))
    if disclosure == "none":
        _strip_conflicts(schema)
        scenario = scenario.model_copy(update={"conflicts": []}) if scenario is not None else None
    fact_ids = [f.id for f in scenario.facts] if scenario else []
    on_request = scenario.on_request_ids() if scenario else []
    conflict_ids = [c.id for c in scenario.conflicts] if scenario else []
    option_ids = sorted({o.id for c in scenario.conflicts for o in c.options} | {NO_OPTION}) if scenario else []

    def narrow(obj: dict[str, Any], path: str) -> None:
        if obj.get("type") == "object":
            props = obj.get("properties", {})
            obj["required"] = list(props)
            obj["additionalProperties"] = False
            for name, sub in props.items():
                narrow(sub, f"{path}.{name}")
                _apply_enum(name, sub, path)
        elif obj.get("type") == "array":
            obj["maxItems"] = max_items
            narrow(obj["items"], path + "[]")
        for branch in obj.get("anyOf", []):
            narrow(branch, path)

    def _apply_enum(name: str, sub: dict[str, Any], parent: str) -> None:
        target = sub
        if "anyOf" in sub:  # optional field: narrow the string branch
            target = next((b for b in sub["anyOf"] if b.get("type") == "string"), sub)
        if name == "facts" and sub.get("type") == "array":
            target = sub["items"]
            values = fact_ids
        elif name == "requested_facts":
            target = sub["items"]
            values = on_request
            if not values:
                sub["maxItems"] = 0
        elif name == "conflict":
            values = conflict_ids
        elif name == "option":
            values = option_ids
        elif name in ("member", "next_speaker") and members:
            values = members + ([RESOLVE] if name == "next_speaker" else [])
        elif name == "dimension":
            values = list(DIMENSIONS)
        else:
            return
        if values:
            target["enum"] = list(values)
            target.pop("pattern", None)
        elif name in ("conflict", "option") and target is not sub:
            # No conflicts in this case: the optional conflict reference can only be null.
            sub.pop("anyOf", None)
            sub["type"] = "null"

    narrow(schema, "$")
    if kind in ("turn", "resolution") and scenario is not None and "choices" in schema["properties"]:
        _choices_per_conflict(schema["properties"]["choices"], scenario)
    return schema


def _strip_conflicts(node: Any) -> None:
    """Drop every `choices` and `conflict` property (disclosure `none`)."""
    if isinstance(node, dict):
        props = node.get("properties")
        if isinstance(props, dict):
            for name in ("choices", "conflict"):
                props.pop(name, None)
            if isinstance(node.get("required"), list):
                node["required"] = [r for r in node["required"] if r in props]
        for value in node.values():
            _strip_conflicts(value)
    elif isinstance(node, list):
        for value in node:
            _strip_conflicts(value)


def _choices_per_conflict(choices: dict[str, Any], scenario: Scenario) -> None:
    """Each choice names a conflict and then one of *that* conflict's options: an `anyOf` with one
    branch per conflict, so a constrained model cannot pair a conflict with another one's option."""
    if not scenario.conflicts:
        choices["maxItems"] = 0
        return
    template = choices["items"]
    branches = []
    for conflict in scenario.conflicts:
        branch = copy.deepcopy(template)
        branch["properties"]["conflict"] = {"type": "string", "enum": [conflict.id]}
        branch["properties"]["option"] = {"type": "string", "enum": [o.id for o in conflict.options] + [NO_OPTION]}
        branches.append(branch)
    choices["items"] = branches[0] if len(branches) == 1 else {"anyOf": branches}
    choices["maxItems"] = len(scenario.conflicts)

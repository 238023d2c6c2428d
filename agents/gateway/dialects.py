"""Structured-output dialects: how to ask each kind of server for JSON that fits a schema.

Servers that speak the OpenAI chat API disagree on how a schema is asked for:

| mode                 | request                                                                  | spoken by |
|----------------------|--------------------------------------------------------------------------|-----------|
| `json_schema`        | `response_format: {"type": "json_schema", "json_schema": {"schema": S}}` | OpenAI, vLLM, LM Studio, SGLang, Ollama's /v1; litellm turns it into Ollama's `format: S` for `ollama/` and `ollama_chat/` models |
| `json_object_schema` | `response_format: {"type": "json_object", "schema": S}` (one choice per conflict, `llama_cpp_schema`) | llama-cpp-python's server (`python -m llama_cpp.server`), which answers `json_schema` with HTTP 500 |
| `compact`            | as `json_object_schema`, with the embedded model's tightened schema (`compact_schema`) | small models (SmolLM2-135M) on llama.cpp's server; opt-in only |
| `json_object`        | `response_format: {"type": "json_object"}` (JSON, any shape)             | most servers without schema support |
| `none`               | no response format; the prompt alone asks for the JSON                   | everything else |

The first mode tried for a model comes from, in order: GRANDROUNDS_RESPONSE_FORMAT (one mode for
every model, or `MODEL=MODE,MODEL=MODE` per model, with `*` as the default; `compact` only this way), litellm's model
information (`supports_response_schema`), and the provider: an OpenAI-compatible server litellm does
not know (an `openai/<name>` behind OPENAI_API_BASE, `hosted_vllm/`, `lm_studio/`, ...) starts at
`json_schema`. When a server refuses a mode, whatever status code the refusal comes with (llama.cpp's
server answers 500), the gateway tries the next one in the table and remembers it for that model.
"""

from __future__ import annotations

import os
import re
from typing import Any

__all__ = ["MODES", "RESPONSE_FORMAT_ENV", "FormatSettingError", "forced_mode", "check_setting", "initial_mode", "response_format", "is_refusal", "weaker"]

MODES: tuple[str, ...] = ("json_schema", "json_object_schema", "json_object", "none")
# Set only on request (GRANDROUNDS_RESPONSE_FORMAT), never detected; refused, it falls back to json_object.
OPT_IN_MODES: tuple[str, ...] = ("compact",)
RESPONSE_FORMAT_ENV = "GRANDROUNDS_RESPONSE_FORMAT"
# Providers whose OpenAI-compatible servers litellm cannot describe: start at the strongest mode and
# let a refusal move down the list.
OPEN_SERVERS = frozenset({"openai", "hosted_vllm", "lm_studio", "llamafile", "openai_like", "custom_openai", "ollama", "ollama_chat"})
# Error kinds that say nothing about the request's format (the same request may succeed later).
_TRANSPORT_KINDS = frozenset({"timeout", "rate_limit", "connection", "auth"})
_FORMAT_WORDS = re.compile(r"response_format|json_schema|json_object|structured output|response schema|guided_json|grammar", re.IGNORECASE)


class FormatSettingError(ValueError):
    """GRANDROUNDS_RESPONSE_FORMAT names a mode that does not exist."""


def _parse(value: str, strict: bool = True) -> dict[str, str]:
    out: dict[str, str] = {}
    for part in (p.strip() for p in value.split(",")):
        if not part:
            continue
        model, sep, mode = part.rpartition("=")
        if not sep:
            model, mode = "*", part
        mode = mode.strip().lower()
        if mode == "auto":
            continue
        if mode not in MODES and mode not in OPT_IN_MODES:
            if not strict:
                continue
            raise FormatSettingError(f"{RESPONSE_FORMAT_ENV}: unknown mode {mode!r} (use one of {', '.join(MODES + OPT_IN_MODES)}, auto, or MODEL=MODE,...)")
        out[model.strip() or "*"] = mode
    return out


def forced_mode(model: str) -> str | None:
    """The mode GRANDROUNDS_RESPONSE_FORMAT sets for `model`, if any."""
    value = os.environ.get(RESPONSE_FORMAT_ENV, "").strip()
    if not value:
        return None
    table = _parse(value, strict=False)  # the command line checks the setting first (check_setting)
    return table.get(model, table.get("*"))


def check_setting() -> None:
    """Raise FormatSettingError (a one-line message) when GRANDROUNDS_RESPONSE_FORMAT is malformed."""
    _parse(os.environ.get(RESPONSE_FORMAT_ENV, "").strip())


def _provider(model: str) -> str:
    return model.split("/", 1)[0] if "/" in model else ""


def initial_mode(model: str, litellm: Any) -> str:
    """The first mode to try for a model that is not one of grandrounds' own providers."""
    forced = forced_mode(model)
    if forced is not None:
        return forced
    provider = _provider(model)
    try:
        if litellm.supports_response_schema(model=model):
            return "json_schema"
    except Exception:  # noqa: BLE001 - a model litellm does not know
        pass
    if provider in OPEN_SERVERS:
        return "json_schema"
    try:
        if "response_format" in (litellm.get_supported_openai_params(model=model) or ()):
            return "json_object"
        return "none"
    except Exception:  # noqa: BLE001 - unknown model: ask for JSON mode, degrade if refused
        return "json_object"


def _free_string(node: dict[str, Any]) -> bool:
    return node.get("type") == "string" and "enum" not in node and "const" not in node and "maxLength" not in node


def llama_cpp_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """The schema sent to llama.cpp's server (`json_object` + `schema`): `choices` arrays hold exactly
    one item per conflict, in order (`prefixItems` over the per-conflict branches that
    `agents.schemas.reply_schema` made; llama.cpp's grammar converter supports them), so the grammar
    cannot break the validators' one-option-per-conflict rule."""

    def walk(node: Any, name: str | None) -> Any:
        if isinstance(node, list):
            return [walk(v, name) for v in node]
        if not isinstance(node, dict):
            return node
        out = {k: ({p: walk(v, p) for p, v in val.items()} if k == "properties" and isinstance(val, dict) else walk(val, name)) for k, val in node.items()}
        if name == "choices" and out.get("type") == "array" and int(out.get("maxItems", 1)) > 0 and isinstance(out.get("items"), dict):
            items = out.pop("items")
            branches = items.get("anyOf") or [items]
            out["prefixItems"] = branches
            out["minItems"] = out["maxItems"] = len(branches)
        return out

    return walk(schema, None)


def compact_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """The embedded model's tightened schema (`agents.providers.local.local_schema`: one or two items
    per array, one choice per conflict, bounded numbers in steps) with its per-field text caps as
    `maxLength`: what makes a 135M model finish a turn within a few hundred tokens. Everything that
    fits it fits `schema`. For small models on llama.cpp's server; opt-in (`MODEL=compact`)."""
    from agents.providers import local

    def cap(node: Any, name: str | None) -> Any:
        if isinstance(node, list):
            return [cap(v, name) for v in node]
        if not isinstance(node, dict):
            return node
        out = {k: ({p: cap(v, p) for p, v in val.items()} if k == "properties" and isinstance(val, dict) else cap(val, name)) for k, val in node.items()}
        if _free_string(out):
            # a pattern, not maxLength: llama.cpp's converter lets raw control characters into
            # strings, which no JSON parser accepts; plain characters only, at most the field's cap
            out["pattern"] = f'^[^"\\\\\\x00-\\x1f]{{0,{local.FIELD_CHARS.get(name or "", local.MAX_STRING_CHARS)}}}$'
        return out

    return cap(local.local_schema(schema), None)


def response_format(kind: str, schema: dict[str, Any] | None, mode: str) -> dict[str, Any] | None:
    """The `response_format` request parameter for `mode` (None: send none)."""
    if schema is None or mode == "none":
        return None
    if mode == "json_object":
        return {"type": "json_object"}
    if mode == "json_object_schema":
        return {"type": "json_object", "schema": llama_cpp_schema(schema)}
    if mode == "compact":
        return {"type": "json_object", "schema": compact_schema(schema)}
    name = re.sub(r"[^A-Za-z0-9_-]", "_", kind)[:64] or "reply"
    return {"type": "json_schema", "json_schema": {"name": name, "schema": schema, "strict": True}}


def is_refusal(kind: str, message: str, status_code: int | None) -> bool:
    """Whether a failed call reads as the server refusing the response format it was sent.

    The status code does not matter (llama.cpp's server refuses with 500, vLLM with 400, others
    with 422); the error must not be a transport failure and must name the format."""
    if kind in _TRANSPORT_KINDS:
        return False
    return bool(_FORMAT_WORDS.search(message))


def weaker(mode: str) -> str | None:
    """The next mode to try after `mode` was refused (None after `none`)."""
    if mode in OPT_IN_MODES:
        return "json_object"
    index = MODES.index(mode) if mode in MODES else len(MODES) - 1
    return MODES[index + 1] if index + 1 < len(MODES) else None

"""Response formats: JSON Schema, falling back to JSON mode, then to none, per model, for providers
that reject the stronger one."""

from __future__ import annotations

import logging
import os
import re
from typing import Any

from agents.gateway.calls import ModelCall
from agents.gateway.errors import ModelCallError
from agents.gateway.litellm_setup import OWN_PROVIDERS, _provider, litellm_module

_log = logging.getLogger("agents.gateway")

_FORMATS = ("json_schema", "json_object", "none")
_FORMAT_FOR_MODEL: dict[str, str] = {}
_FORMAT_WORDS = re.compile(r"response_format|json_schema|json_object|structured output|response schema", re.IGNORECASE)


# GRANDROUNDS_RESPONSE_FORMAT=json_schema|json_object|none forces the first format tried for models
# that are not built in (e.g. a local vLLM or Ollama server behind `openai/<name>`, which litellm cannot
# know supports JSON-Schema output); unset or `auto` lets litellm's model info decide.
RESPONSE_FORMAT_ENV = "GRANDROUNDS_RESPONSE_FORMAT"


def _cached_formats() -> dict[str, str]:
    # Read through the package, so `monkeypatch.setattr(agents.gateway, "_FORMAT_FOR_MODEL", {})` resets it.
    from agents import gateway

    return gateway._FORMAT_FOR_MODEL


def _format_mode(model: str, routed: bool) -> str:
    _FORMAT_FOR_MODEL = _cached_formats()
    mode = _FORMAT_FOR_MODEL.get(model)
    forced = os.environ.get(RESPONSE_FORMAT_ENV, "").strip().lower()
    if mode is None and forced in _FORMATS and _provider(model) not in OWN_PROVIDERS:
        _FORMAT_FOR_MODEL[model] = forced
        return forced
    if mode is not None:
        return mode
    if _provider(model) in OWN_PROVIDERS or routed:
        mode = "json_schema"
    else:
        litellm = litellm_module()
        try:
            if litellm.supports_response_schema(model=model):
                mode = "json_schema"
            elif "response_format" in (litellm.get_supported_openai_params(model=model) or ()):
                mode = "json_object"
            else:
                mode = "none"
        except Exception:  # noqa: BLE001 - unknown model: ask for JSON mode, degrade if refused
            mode = "json_object"
    _FORMAT_FOR_MODEL[model] = mode
    return mode


def _response_format(call: ModelCall, mode: str) -> dict[str, Any] | None:
    if call.schema is None or mode == "none":
        return None
    if mode == "json_object":
        return {"type": "json_object"}
    name = re.sub(r"[^A-Za-z0-9_-]", "_", call.kind)[:64] or "reply"
    return {"type": "json_schema", "json_schema": {"name": name, "schema": call.schema, "strict": True}}


def _degrade(model: str, mode: str, error: ModelCallError) -> str | None:
    """A weaker response format to try when a provider rejected this one, else None."""
    if error.kind != "bad_request" or mode == "none" or _provider(model) in OWN_PROVIDERS:
        return None
    if not _FORMAT_WORDS.search(str(error)):
        return None
    weaker = _FORMATS[_FORMATS.index(mode) + 1]
    _cached_formats()[model] = weaker
    _log.info("model %s rejected response_format=%s; using %s", model, mode, weaker)
    return weaker

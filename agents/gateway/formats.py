"""Response formats per model: the dialect each server speaks (agents/gateway/dialects.py), moving
to the next when a server refuses one, whatever the status code."""

from __future__ import annotations

import logging
from typing import Any

from agents.gateway import dialects as _dialects
from agents.gateway.calls import ModelCall
from agents.gateway.errors import ModelCallError
from agents.gateway.litellm_setup import OWN_PROVIDERS, _provider, litellm_module

_log = logging.getLogger("agents.gateway")


# The dialects (json_schema, llama.cpp's json_object + schema, json_object, none) live in
# agents/gateway/dialects.py; this module keeps the mode found for each model.
_FORMATS = _dialects.MODES
_FORMAT_FOR_MODEL: dict[str, str] = {}

# GRANDROUNDS_RESPONSE_FORMAT=json_schema|json_object_schema|compact|json_object|none|auto (or MODEL=MODE,...)
# forces the first format tried for models that are not built in; see agents/gateway/dialects.py.
RESPONSE_FORMAT_ENV = _dialects.RESPONSE_FORMAT_ENV


def _cached_formats() -> dict[str, str]:
    # Read through the package, so `monkeypatch.setattr(agents.gateway, "_FORMAT_FOR_MODEL", {})` resets it.
    from agents import gateway

    return gateway._FORMAT_FOR_MODEL


def _format_mode(model: str, routed: bool) -> str:
    _FORMAT_FOR_MODEL = _cached_formats()
    mode = _FORMAT_FOR_MODEL.get(model)
    if mode is not None:
        return mode
    if _provider(model) in OWN_PROVIDERS:
        mode = "json_schema"
    elif routed:
        mode = _dialects.forced_mode(model) or "json_schema"
    else:
        mode = _dialects.initial_mode(model, litellm_module())
    _FORMAT_FOR_MODEL[model] = mode
    return mode


def _response_format(call: ModelCall, mode: str) -> dict[str, Any] | None:
    return _dialects.response_format(call.kind, call.schema, mode)


def _degrade(model: str, mode: str, error: ModelCallError) -> str | None:
    """A weaker response format to try when a provider refused this one (any status code), else None."""
    if mode == "none" or _provider(model) in OWN_PROVIDERS:
        return None
    if not _dialects.is_refusal(error.kind, str(error), error.status_code):
        return None
    weaker = _dialects.weaker(mode)
    if weaker is None:
        return None
    _cached_formats()[model] = weaker
    _log.info("model %s refused response_format=%s (%s); using %s", model, mode, error.kind, weaker)
    return weaker

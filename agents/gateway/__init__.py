"""The model gateway: the one module that imports and configures litellm.

Everything in grandrounds that needs a model builds a `ModelCall` and awaits `acomplete(call)` (or
calls `complete(call)` outside an event loop). The gateway

- imports litellm lazily, once, with the local cost map, telemetry and debug output off, and
  registers the two built-in providers (`local/smollm2`, `scripted/<policy>[?opt=val&...]`) through
  `litellm.custom_provider_map`;
- asks for schema-constrained output in the dialect the server speaks (`dialects`: `json_schema`,
  llama.cpp's `json_object` + `schema`, JSON mode, none), moving to the next one when a server
  refuses one, whatever the status code;
- retries transport failures itself (timeouts, 429, 5xx, connection errors) with exponential
  backoff and jitter, honouring `Retry-After` up to `MAX_RETRY_AFTER_S`; other 4xx are not retried;
- raises `ModelCallError` with a `kind` and a message with secrets redacted;
- hands `call.context` to the scripted provider through a context variable; it is never sent to a
  real provider.

Calls to `scripted/...` models take a fast path that calls the scripted provider directly (litellm's
per-call overhead would otherwise cap the engine at a few hundred calls per second); the semantics are
the same, and `set_scripted_fast_path(False)` (or GRANDROUNDS_SCRIPTED_VIA_LITELLM=1) sends them
through litellm too. `set_router(router)` routes calls for the router's model names through a
litellm Router.

The package's modules: `litellm_setup` (the only module that imports litellm; the built-in
providers, the router), `errors` (error kinds, redaction, classification), `formats` (response
format fallback), `dialects` (the structured-output dialects of each kind of server), `retries` (one call with its retries: `acomplete`, `complete`), `cache_hook`
(the response cache), `calls` (`ModelCall`, `ModelReply`). Import from `agents.gateway`.
"""

from __future__ import annotations

import asyncio

from agents.gateway.cache_hook import _RESPONSE_CACHE, _cache_lookup, _cache_store, use_response_cache
from agents.gateway.calls import ModelCall, ModelReply
from agents.gateway.errors import (
    ERROR_KINDS,
    MAX_ERROR_CHARS,
    REDACTED,
    RETRYABLE_KINDS,
    ModelCallError,
    _as_error,
    _status_of,
    classify,
    redact,
    retry_after_of,
)
from agents.gateway.formats import _FORMAT_FOR_MODEL, _FORMATS, RESPONSE_FORMAT_ENV, _degrade, _format_mode, _response_format
from agents.gateway.litellm_setup import (
    OWN_PROVIDERS,
    _is_scripted,
    _provider,
    _provider_error,
    _register_providers,
    _routed,
    get_router,
    litellm_module,
    provider_problem,
    set_router,
    set_scripted_fast_path,
)
from agents.gateway.retries import (
    BACKOFF_BASE_S,
    BACKOFF_MAX_S,
    MAX_RETRY_AFTER_S,
    TIMEOUT_GRACE_S,
    _attempt,
    _next_step,
    _params,
    acomplete,
    backoff_delay,
    complete,
)

__all__ = [
    "ERROR_KINDS",
    "ModelCall",
    "ModelReply",
    "ModelCallError",
    "acomplete",
    "backoff_delay",
    "classify",
    "complete",
    "provider_problem",
    "redact",
    "retry_after_of",
    "set_router",
    "get_router",
    "set_scripted_fast_path",
    "litellm_module",
    "use_response_cache",
    "RESPONSE_FORMAT_ENV",
]

# Seams tests patch on the package: the backoff sleep, and the per-model response-format memo.
_sleep = asyncio.sleep

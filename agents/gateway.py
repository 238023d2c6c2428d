"""The model gateway: the one module that imports and configures litellm.

Everything in grandrounds that needs a model builds a `ModelCall` and awaits `acomplete(call)` (or
calls `complete(call)` outside an event loop). The gateway

- imports litellm lazily, once, with the local cost map, telemetry and debug output off, and
  registers the two built-in providers (`local/smollm2`, `scripted/<policy>[?opt=val&...]`) through
  `litellm.custom_provider_map`;
- asks for schema-constrained output in the dialect the server speaks (agents/gateway_formats.py:
  `json_schema`, llama.cpp's `json_object` + `schema`, JSON mode, none), moving to the next one
  when a server refuses one, whatever the status code;
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
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import email.utils
import logging
import os
import random
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from agents.providers import scripted
from transcripts.events import Usage

__all__ = [
    "ERROR_KINDS",
    "ModelCall",
    "ModelReply",
    "ModelCallError",
    "acomplete",
    "complete",
    "redact",
    "set_router",
    "get_router",
    "set_scripted_fast_path",
    "litellm_module",
    "use_response_cache",
    "RESPONSE_FORMAT_ENV",
]

ERROR_KINDS: tuple[str, ...] = ("timeout", "rate_limit", "server", "bad_request", "auth", "connection", "unknown")
RETRYABLE_KINDS = frozenset({"timeout", "rate_limit", "server", "connection"})
MAX_RETRY_AFTER_S = 30.0
BACKOFF_BASE_S = 0.5
BACKOFF_MAX_S = 8.0
# Extra time the gateway allows on top of the call's own timeout before it gives up waiting.
TIMEOUT_GRACE_S = 5.0
OWN_PROVIDERS = ("local", "scripted")

_log = logging.getLogger(__name__)


@dataclass
class ModelCall:
    """One request to a model. `context` feeds the scripted provider and is never sent anywhere."""

    model: str
    messages: list[dict[str, Any]]
    kind: str
    schema: dict[str, Any] | None = None
    temperature: float = 0.2
    max_tokens: int = 700
    top_p: float | None = None
    seed: int = 0
    timeout_s: float = 120.0
    retries: int = 2
    context: dict[str, Any] = field(default_factory=dict)
    # Called before each transport retry with (error, attempt number from 1, delay in seconds),
    # so the caller can record the retry in the transcript.
    on_retry: Callable[[ModelCallError, int, float], None] | None = None


@dataclass
class ModelReply:
    text: str
    usage: Usage


class ModelCallError(Exception):
    """A model call that failed for good (after the gateway's transport retries)."""

    def __init__(
        self,
        kind: str,
        message: str,
        *,
        retry_after: float | None = None,
        status_code: int | None = None,
        model: str = "",
        attempts: int = 1,
    ) -> None:
        self.kind = kind if kind in ERROR_KINDS else "unknown"
        self.retry_after = retry_after
        self.status_code = status_code
        self.model = model
        self.attempts = attempts
        super().__init__(redact(message))

    @property
    def retryable(self) -> bool:
        return self.kind in RETRYABLE_KINDS


# -- secrets ---------------------------------------------------------------------------------------

_SECRET_NAME = re.compile(r"KEY|TOKEN|SECRET|PASSWORD", re.IGNORECASE)
_SECRET_PATTERNS = (
    re.compile(r"\bsk-[A-Za-z0-9_\-]{6,}"),
    re.compile(r"(?i)\bbearer\s+[A-Za-z0-9._~+/=\-]{6,}"),
    re.compile(r"(?i)((?:api[_-]?key|x-api-key|access[_-]?token|authorization)[\"']?\s*[:=]\s*[\"']?)[^\s\"',}]{6,}"),
    re.compile(r"\b(?:AIza[0-9A-Za-z_\-]{20,}|gh[pousr]_[A-Za-z0-9]{20,}|hf_[A-Za-z0-9]{20,}|AKIA[0-9A-Z]{16})\b"),
)
REDACTED = "[redacted]"
MAX_ERROR_CHARS = 2000


def redact(text: str) -> str:
    """`text` with API keys, bearer tokens and the values of *KEY*/*TOKEN*/*SECRET* env vars removed."""
    text = str(text)
    values = sorted(
        {v for k, v in os.environ.items() if _SECRET_NAME.search(k) and len(v) >= 6},
        key=len,
        reverse=True,
    )
    for value in values:
        if value in text:
            text = text.replace(value, REDACTED)
    for pattern in _SECRET_PATTERNS:
        if pattern.groups:
            text = pattern.sub(lambda m: m.group(1) + REDACTED, text)
        else:
            text = pattern.sub(REDACTED, text)
    if len(text) > MAX_ERROR_CHARS:
        text = text[:MAX_ERROR_CHARS] + " ..."
    return text


# -- litellm, imported once --------------------------------------------------------------------------

_LITELLM: Any = None
_IMPORT_LOCK = threading.Lock()
_ROUTER: Any = None
_FAST_SCRIPTED = os.environ.get("GRANDROUNDS_SCRIPTED_VIA_LITELLM") != "1"


def litellm_module() -> Any:
    """litellm, imported and configured on first use (the only place grandrounds imports it)."""
    global _LITELLM
    if _LITELLM is not None:
        return _LITELLM
    with _IMPORT_LOCK:
        if _LITELLM is None:
            os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"  # never fetch the price list
            os.environ.setdefault("LITELLM_SUPPRESS_STARTUP_OUTPUT", "True")
            import litellm

            litellm.suppress_debug_info = True
            litellm.telemetry = False  # gone from recent versions; harmless where absent
            litellm.set_verbose = False
            litellm.turn_off_message_logging = True  # keep prompts and replies out of litellm's logs
            if "LITELLM_LOG" not in os.environ:  # unless someone asked for litellm's logs
                for name in ("LiteLLM", "LiteLLM Router", "LiteLLM Proxy", "litellm"):
                    logging.getLogger(name).setLevel(logging.ERROR)
            _register_providers(litellm)
            _LITELLM = litellm
    return _LITELLM


def set_router(router: Any | None) -> None:
    """Send calls for the router's model names through `router.acompletion` (None to stop).

    The router's names are read now; call `set_router` again after changing its model list.
    """
    global _ROUTER, _ROUTER_NAMES, _ROUTER_SCRIPTED
    _ROUTER = router
    _ROUTER_NAMES = frozenset(_router_model_names(router)) if router is not None else frozenset()
    _ROUTER_SCRIPTED = frozenset(n for n in _ROUTER_NAMES if any(_is_scripted(m) for m in _router_deployment_models(router, n)))


def get_router() -> Any | None:
    return _ROUTER


# -- the response cache (`grandrounds batch --cache`, see agents/cache.py) -------------------------------

_RESPONSE_CACHE: contextvars.ContextVar[Any] = contextvars.ContextVar("grandrounds_response_cache", default=None)


def use_response_cache(cache: Any | None) -> contextvars.Token:
    """Serve calls made in this context (and tasks started from it) from `cache` (an
    `agents.cache.ResponseCache`, or None for no cache); returns a token for `_RESPONSE_CACHE.reset`."""
    return _RESPONSE_CACHE.set(cache)


def _cache_lookup(call: ModelCall) -> tuple[Any, str | None, ModelReply | None]:
    cache = _RESPONSE_CACHE.get()
    if cache is None:
        return None, None, None
    from agents.cache import request_key

    key = request_key(call)
    hit = cache.get(key)
    if hit is None:
        return cache, key, None
    usage = Usage(model=hit.model or call.model, prompt_tokens=hit.prompt_tokens, completion_tokens=hit.completion_tokens, cost_usd=0.0, cached=True)
    return cache, key, ModelReply(text=hit.text, usage=usage)


def _cache_store(cache: Any, key: str | None, reply: ModelReply) -> None:
    if cache is None or key is None:
        return
    from agents.cache import CachedReply

    cache.put(key, CachedReply(reply.text, reply.usage.prompt_tokens, reply.usage.completion_tokens, reply.usage.model))


def set_scripted_fast_path(enabled: bool) -> None:
    """Call the scripted provider directly (default) or through litellm like every other model."""
    global _FAST_SCRIPTED
    _FAST_SCRIPTED = enabled


_ROUTER_NAMES: frozenset[str] = frozenset()
_ROUTER_SCRIPTED: frozenset[str] = frozenset()


def _router_model_names(router: Any) -> set[str]:
    registry = getattr(router, "registry", None)
    if callable(registry):  # litellm >= 1.100
        return set(registry().names())
    names = set(getattr(router, "model_names", None) or ())
    for deployment in getattr(router, "model_list", None) or ():
        if isinstance(deployment, dict) and deployment.get("model_name"):
            names.add(deployment["model_name"])
    return names


def _router_deployment_models(router: Any, name: str) -> list[str]:
    registry = getattr(router, "registry", None)
    deployments = registry().all() if callable(registry) else (getattr(router, "model_list", None) or ())
    return [
        str((d.get("litellm_params") or {}).get("model", ""))
        for d in deployments
        if isinstance(d, dict) and d.get("model_name") == name
    ]


def _routed(model: str) -> bool:
    return _ROUTER is not None and model in _ROUTER_NAMES


def _provider(model: str) -> str:
    return model.split("/", 1)[0] if "/" in model else ""


def _is_scripted(model: str) -> bool:
    return model.startswith("scripted/")


def _wants_context(model: str, routed: bool) -> bool:
    return _is_scripted(model) or (routed and model in _ROUTER_SCRIPTED)


# -- the built-in providers as litellm custom handlers ----------------------------------------------


def _scripted_error(litellm: Any, failure: scripted.ScriptedFailure, model: str) -> Exception:
    return _provider_error(litellm, failure.kind, str(failure), model, "scripted", failure.retry_after)


def _provider_error(litellm: Any, kind: str, message: str, model: str, provider: str, retry_after: float | None = None) -> Exception:
    import httpx

    if kind == "timeout":
        return litellm.Timeout(message, model=model, llm_provider=provider)
    if kind == "rate_limit":
        headers = {"retry-after": f"{retry_after:g}"} if retry_after is not None else {}
        response = httpx.Response(429, headers=headers, request=httpx.Request("POST", f"http://{provider}.invalid"))
        return litellm.RateLimitError(message, llm_provider=provider, model=model, response=response, headers=headers or None)
    if kind == "server":
        return litellm.InternalServerError(message, llm_provider=provider, model=model)
    if kind == "bad_request":
        return litellm.BadRequestError(message, model=model, llm_provider=provider)
    return litellm.APIConnectionError(message, llm_provider=provider, model=model)


def _fill(model_response: Any, litellm: Any, model: str, text: str, prompt_tokens: int, completion_tokens: int, finish: str = "stop") -> Any:
    model_response.choices[0].message.content = text
    model_response.choices[0].finish_reason = finish
    model_response.model = model
    model_response.usage = litellm.Usage(
        prompt_tokens=prompt_tokens, completion_tokens=completion_tokens, total_tokens=prompt_tokens + completion_tokens
    )
    return model_response


def _schema_from(optional_params: dict[str, Any]) -> dict[str, Any] | None:
    fmt = optional_params.get("response_format") or {}
    if not isinstance(fmt, dict):
        return None
    if fmt.get("type") == "json_schema":
        return (fmt.get("json_schema") or {}).get("schema")
    if fmt.get("type") == "json_object":
        return fmt.get("schema")
    return None


def _kind_from(optional_params: dict[str, Any]) -> str | None:
    fmt = optional_params.get("response_format") or {}
    if isinstance(fmt, dict) and fmt.get("type") == "json_schema":
        return (fmt.get("json_schema") or {}).get("name")
    return None


def _timeout_of(kwargs: dict[str, Any]) -> float | None:
    timeout = kwargs.get("timeout")
    if timeout is None:
        return None
    if isinstance(timeout, (int, float)):
        return float(timeout)
    read = getattr(timeout, "read", None)
    return float(read) if read else None


def _register_providers(litellm: Any) -> None:
    from litellm import CustomLLM

    class ScriptedHandler(CustomLLM):
        """`scripted/<policy>[?opt=val&...]`: litellm passes the part after `scripted/`."""

        def _args(self, model: str, kwargs: dict[str, Any]) -> dict[str, Any]:
            params = kwargs.get("optional_params") or {}
            return {
                "seed": params.get("seed", 0),
                "kind": _kind_from(params),
                "timeout_s": _timeout_of(kwargs),
            }

        def completion(self, model: str, messages: list, *args: Any, **kwargs: Any) -> Any:
            full = "scripted/" + model
            try:
                out = scripted.reply(full, messages, **self._args(model, kwargs))
            except scripted.ScriptedFailure as failure:
                raise _scripted_error(litellm, failure, full) from None
            return _fill(kwargs["model_response"], litellm, full, out.text, out.prompt_tokens, out.completion_tokens)

        async def acompletion(self, model: str, messages: list, *args: Any, **kwargs: Any) -> Any:
            full = "scripted/" + model
            try:
                out = await scripted.areply(full, messages, **self._args(model, kwargs))
            except scripted.ScriptedFailure as failure:
                raise _scripted_error(litellm, failure, full) from None
            return _fill(kwargs["model_response"], litellm, full, out.text, out.prompt_tokens, out.completion_tokens)

    class LocalHandler(CustomLLM):
        """`local/smollm2`: the embedded SmolLM2 model (agents.providers.local)."""

        def _args(self, model: str, kwargs: dict[str, Any]) -> dict[str, Any]:
            from agents.providers import local

            if "local/" + model != local.MODEL:
                raise litellm.BadRequestError(
                    f"unknown local model 'local/{model}'; the embedded model is '{local.MODEL}'", model="local/" + model, llm_provider="local"
                )
            params = kwargs.get("optional_params") or {}
            args: dict[str, Any] = {
                "schema": _schema_from(params),
                "temperature": params.get("temperature", 0.2),
                "max_tokens": params.get("max_tokens") or params.get("max_completion_tokens") or 700,
                "seed": params.get("seed", 0),
                "timeout_s": _timeout_of(kwargs),
            }
            if params.get("top_p") is not None:
                args["top_p"] = params["top_p"]
            return args

        def _translate(self, exc: Exception, model: str) -> Exception:
            from agents.providers import local

            if isinstance(exc, local.LocalTimeout):
                return _provider_error(litellm, "timeout", str(exc), model, "local")
            if isinstance(exc, local.LocalRequestError):
                return litellm.ContextWindowExceededError(str(exc), model=model, llm_provider="local")
            if isinstance(exc, local.LocalModelUnavailable):
                return _provider_error(litellm, "bad_request", str(exc), model, "local")
            return exc

        def completion(self, model: str, messages: list, *args: Any, **kwargs: Any) -> Any:
            from agents.providers import local

            try:
                out = local.complete(messages, **self._args(model, kwargs))
            except (local.LocalTimeout, local.LocalRequestError, local.LocalModelUnavailable) as exc:
                raise self._translate(exc, local.MODEL) from None
            return _fill(kwargs["model_response"], litellm, local.MODEL, out.text, out.prompt_tokens, out.completion_tokens, out.finish_reason)

        async def acompletion(self, model: str, messages: list, *args: Any, **kwargs: Any) -> Any:
            from agents.providers import local

            try:
                out = await local.acomplete(messages, **self._args(model, kwargs))
            except (local.LocalTimeout, local.LocalRequestError, local.LocalModelUnavailable) as exc:
                raise self._translate(exc, local.MODEL) from None
            return _fill(kwargs["model_response"], litellm, local.MODEL, out.text, out.prompt_tokens, out.completion_tokens, out.finish_reason)

    ours = [
        {"provider": "scripted", "custom_handler": ScriptedHandler()},
        {"provider": "local", "custom_handler": LocalHandler()},
    ]
    others = [item for item in litellm.custom_provider_map if item.get("provider") not in OWN_PROVIDERS]
    litellm.custom_provider_map = others + ours
    setup = getattr(getattr(litellm, "utils", None), "custom_llm_setup", None)
    if callable(setup):
        setup()


# -- errors ----------------------------------------------------------------------------------------


def _headers_of(exc: Exception) -> list[Any]:
    out = []
    for source in (getattr(exc, "headers", None), getattr(getattr(exc, "response", None), "headers", None), getattr(exc, "litellm_response_headers", None)):
        if source:
            out.append(source)
    return out


def _header(headers: Any, name: str) -> str | None:
    try:
        value = headers.get(name)
    except AttributeError:
        return None
    if value is None and isinstance(headers, dict):
        value = next((v for k, v in headers.items() if str(k).lower() == name), None)
    return None if value is None else str(value)


def retry_after_of(exc: Exception) -> float | None:
    """Seconds the server asked us to wait (Retry-After / retry-after-ms), if it said."""
    explicit = getattr(exc, "retry_after", None)
    if isinstance(explicit, (int, float)):
        return max(0.0, float(explicit))
    for headers in _headers_of(exc):
        ms = _header(headers, "retry-after-ms")
        if ms:
            try:
                return max(0.0, float(ms) / 1000.0)
            except ValueError:
                pass
        value = _header(headers, "retry-after")
        if value:
            try:
                return max(0.0, float(value))
            except ValueError:
                try:
                    when = email.utils.parsedate_to_datetime(value)
                    return max(0.0, when.timestamp() - time.time())
                except (TypeError, ValueError, IndexError):
                    pass
    cooldown = getattr(exc, "cooldown_time", None)  # litellm Router: all deployments cooling down
    if isinstance(cooldown, (int, float)):
        return max(0.0, float(cooldown))
    return None


def _status_of(exc: Exception) -> int | None:
    status = getattr(exc, "status_code", None)
    if not isinstance(status, int):
        status = getattr(getattr(exc, "response", None), "status_code", None)
    return status if isinstance(status, int) else None


def classify(exc: BaseException) -> str:
    """The ModelCallError kind for an exception raised by litellm (or by the transport under it)."""
    name = type(exc).__name__
    litellm = _LITELLM
    try:
        import openai
    except ImportError:  # pragma: no cover - litellm depends on openai
        openai = None  # type: ignore[assignment]
    if isinstance(exc, (asyncio.TimeoutError, TimeoutError)):
        return "timeout"
    if openai is not None:
        if isinstance(exc, openai.APITimeoutError):
            return "timeout"
        if isinstance(exc, openai.APIConnectionError):
            return "connection"
        if isinstance(exc, openai.RateLimitError):
            return "rate_limit"
        if isinstance(exc, (openai.AuthenticationError, openai.PermissionDeniedError)):
            return "auth"
        if isinstance(exc, (openai.BadRequestError, openai.NotFoundError, openai.UnprocessableEntityError, openai.ConflictError)):
            return "bad_request"
        if isinstance(exc, openai.InternalServerError):
            return "server"
    if litellm is not None and isinstance(exc, getattr(litellm, "RouterRateLimitError", ())):
        return "rate_limit"
    status = _status_of(exc)  # type: ignore[arg-type]
    if status is not None:
        if status == 408:
            return "timeout"
        if status == 429:
            return "rate_limit"
        if status in (401, 403):
            return "auth"
        if 400 <= status < 500:
            return "bad_request"
        if status >= 500:
            return "server"
    if "Connection" in name or isinstance(exc, ConnectionError):
        return "connection"
    return "unknown"


def _as_error(exc: BaseException, model: str) -> ModelCallError:
    if isinstance(exc, ModelCallError):
        return exc
    kind = classify(exc)
    message = str(exc) or type(exc).__name__
    return ModelCallError(kind, message, retry_after=retry_after_of(exc), status_code=_status_of(exc), model=model)  # type: ignore[arg-type]


def backoff_delay(error: ModelCallError, attempt: int) -> float:
    """Seconds to wait before retry number `attempt` (from 0): Retry-After if given (capped), else
    exponential backoff with jitter."""
    if error.retry_after is not None:
        return min(max(error.retry_after, 0.0), MAX_RETRY_AFTER_S)
    ceiling = min(BACKOFF_MAX_S, BACKOFF_BASE_S * (2**attempt))
    return ceiling * (0.5 + random.random() / 2)


# -- response formats ----------------------------------------------------------------------------------
# The dialects (json_schema, llama.cpp's json_object + schema, json_object, none) live in
# agents/gateway_formats.py; the gateway keeps the mode found for each model.

from agents import gateway_formats as _formats  # noqa: E402 - kept beside the code that uses it

_FORMATS = _formats.MODES
_FORMAT_FOR_MODEL: dict[str, str] = {}

# GRANDROUNDS_RESPONSE_FORMAT=json_schema|json_object_schema|compact|json_object|none|auto (or MODEL=MODE,...)
# forces the first format tried for models that are not built in; see agents/gateway_formats.py.
RESPONSE_FORMAT_ENV = _formats.RESPONSE_FORMAT_ENV


def _format_mode(model: str, routed: bool) -> str:
    mode = _FORMAT_FOR_MODEL.get(model)
    if mode is not None:
        return mode
    if _provider(model) in OWN_PROVIDERS:
        mode = "json_schema"
    elif routed:
        mode = _formats.forced_mode(model) or "json_schema"
    else:
        mode = _formats.initial_mode(model, litellm_module())
    _FORMAT_FOR_MODEL[model] = mode
    return mode


def _response_format(call: ModelCall, mode: str) -> dict[str, Any] | None:
    return _formats.response_format(call.kind, call.schema, mode)


def _degrade(model: str, mode: str, error: ModelCallError) -> str | None:
    """A weaker response format to try when a provider refused this one (any status code), else None."""
    if mode == "none" or _provider(model) in OWN_PROVIDERS:
        return None
    if not _formats.is_refusal(error.kind, str(error), error.status_code):
        return None
    weaker = _formats.weaker(mode)
    if weaker is None:
        return None
    _FORMAT_FOR_MODEL[model] = weaker
    _log.info("model %s refused response_format=%s (%s); using %s", model, mode, error.kind, weaker)
    return weaker


# -- one attempt ---------------------------------------------------------------------------------------


def _bundle(call: ModelCall, attempt: int) -> dict[str, Any]:
    return {"kind": call.kind, "context": call.context, "seed": call.seed, "transport_attempt": attempt}


def _params(call: ModelCall, mode: str) -> dict[str, Any]:
    params: dict[str, Any] = {
        "model": call.model,
        "messages": call.messages,
        "temperature": call.temperature,
        "max_tokens": call.max_tokens,
        "seed": call.seed,
        "timeout": call.timeout_s,
        "num_retries": 0,
    }
    if call.top_p is not None:
        params["top_p"] = call.top_p
    fmt = _response_format(call, mode)
    if fmt is not None:
        params["response_format"] = fmt
    if _provider(call.model) not in OWN_PROVIDERS:
        params["drop_params"] = True  # a provider without seed/top_p support still answers
    return params


def _cost(litellm: Any, response: Any, model: str) -> float:
    if _provider(model) in OWN_PROVIDERS:
        return 0.0
    hidden = getattr(response, "_hidden_params", None) or {}
    cost = hidden.get("response_cost") if isinstance(hidden, dict) else None
    if cost is None:
        try:
            cost = litellm.completion_cost(completion_response=response)
        except Exception:  # noqa: BLE001 - unpriced model
            cost = 0.0
    try:
        return float(cost or 0.0)
    except (TypeError, ValueError):
        return 0.0


def _unpack(litellm: Any, response: Any, model: str) -> tuple[str, int, int, float, str]:
    try:
        text = response.choices[0].message.content or ""
    except (AttributeError, IndexError, TypeError):
        text = ""
    usage = getattr(response, "usage", None)
    prompt = int(getattr(usage, "prompt_tokens", 0) or 0)
    completion = int(getattr(usage, "completion_tokens", 0) or 0)
    served = getattr(response, "model", None) or model
    return text, prompt, completion, _cost(litellm, response, model), str(served)


async def _attempt(call: ModelCall, attempt: int, mode: str) -> tuple[str, int, int, float, str]:
    routed = _routed(call.model)
    if _FAST_SCRIPTED and _is_scripted(call.model) and not routed:
        try:
            out = await scripted.areply(
                call.model, call.messages, seed=call.seed, kind=call.kind, timeout_s=call.timeout_s, call=_bundle(call, attempt)
            )
        except scripted.ScriptedFailure as failure:
            raise ModelCallError(failure.kind, str(failure), retry_after=failure.retry_after, model=call.model) from None
        return out.text, out.prompt_tokens, out.completion_tokens, 0.0, call.model
    litellm = litellm_module()
    target = _ROUTER.acompletion if routed else litellm.acompletion
    token = scripted.CALL_CONTEXT.set(_bundle(call, attempt)) if _wants_context(call.model, routed) else None
    try:
        async with asyncio.timeout(call.timeout_s + TIMEOUT_GRACE_S):
            response = await target(**_params(call, mode))
    except asyncio.CancelledError:
        raise
    except BaseException as exc:  # noqa: BLE001 - every provider failure becomes a ModelCallError
        if not isinstance(exc, Exception):
            raise
        raise _as_error(exc, call.model) from None
    finally:
        if token is not None:
            scripted.CALL_CONTEXT.reset(token)
    text, prompt, completion, cost, served = _unpack(litellm, response, call.model)
    return text, prompt, completion, cost, served if routed else call.model


# -- the public calls ------------------------------------------------------------------------------------

_sleep = asyncio.sleep  # tests replace this to observe delays without waiting


def _next_step(call: ModelCall, error: ModelCallError, attempt: int, mode: str) -> tuple[str, float | None]:
    """(mode, delay): delay None means give up and raise `error`."""
    weaker = _degrade(call.model, mode, error)
    if weaker is not None:
        return weaker, 0.0
    if not error.retryable or attempt >= call.retries:
        error.attempts = attempt + 1
        return mode, None
    delay = backoff_delay(error, attempt)
    if call.on_retry is not None:
        call.on_retry(error, attempt + 1, delay)
    return mode, delay


async def acomplete(call: ModelCall) -> ModelReply:
    """Call the model; transport failures are retried here, anything else raises ModelCallError."""
    from agents import telemetry

    if not telemetry.enabled():
        return await _acomplete(call)
    with telemetry.model_span(call) as span:  # one OpenTelemetry span per call (agents/telemetry.py)
        try:
            reply = await _acomplete(call)
        except ModelCallError as error:
            span.fail(error.kind, str(error))
            raise
        telemetry.model_reply(span, reply)
        return reply


async def _acomplete(call: ModelCall) -> ModelReply:
    cache, key, cached = _cache_lookup(call)
    if cached is not None:
        return cached
    start = time.perf_counter()
    attempt = 0
    mode = _format_mode(call.model, _routed(call.model)) if call.schema is not None else "none"
    while True:
        try:
            text, prompt, completion, cost, served = await _attempt(call, attempt, mode)
            break
        except ModelCallError as error:
            new_mode, delay = _next_step(call, error, attempt, mode)
            if delay is None:
                raise
            if new_mode == mode:
                attempt += 1
            mode = new_mode
            if delay > 0:
                await _sleep(delay)
    usage = Usage(model=served, prompt_tokens=prompt, completion_tokens=completion, cost_usd=cost, latency_s=time.perf_counter() - start)
    reply = ModelReply(text=text, usage=usage)
    _cache_store(cache, key, reply)
    return reply


def complete(call: ModelCall) -> ModelReply:
    """Blocking `acomplete`, for scripts and threads without an event loop of their own."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(acomplete(call))
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:  # called from inside a loop
        return pool.submit(asyncio.run, acomplete(call)).result()

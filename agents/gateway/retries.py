"""One call, with its retries: transport failures retried with backoff (honouring Retry-After),
response formats degraded when refused; `acomplete` and `complete`."""

from __future__ import annotations

import asyncio
import concurrent.futures
import random
import time
from typing import Any

from agents.gateway import litellm_setup
from agents.gateway.cache_hook import _cache_lookup, _cache_store
from agents.gateway.calls import ModelCall, ModelReply
from agents.gateway.errors import ModelCallError, _as_error
from agents.gateway.formats import _degrade, _format_mode, _response_format
from agents.gateway.litellm_setup import OWN_PROVIDERS, _is_scripted, _provider, _routed, _wants_context, litellm_module
from agents.limits import _LIMITER, estimate_tokens
from agents.providers import scripted
from transcripts.events import Usage

MAX_RETRY_AFTER_S = 30.0
BACKOFF_BASE_S = 0.5
BACKOFF_MAX_S = 8.0
# Extra time the gateway allows on top of the call's own timeout before it gives up waiting.
TIMEOUT_GRACE_S = 5.0


def backoff_delay(error: ModelCallError, attempt: int) -> float:
    """Seconds to wait before retry number `attempt` (from 0): Retry-After if given (capped), else
    exponential backoff with jitter."""
    if error.retry_after is not None:
        return min(max(error.retry_after, 0.0), MAX_RETRY_AFTER_S)
    ceiling = min(BACKOFF_MAX_S, BACKOFF_BASE_S * (2**attempt))
    return ceiling * (0.5 + random.random() / 2)


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
    if litellm_setup.fast_scripted() and _is_scripted(call.model) and not routed:
        try:
            out = await scripted.areply(
                call.model, call.messages, seed=call.seed, kind=call.kind, timeout_s=call.timeout_s, call=_bundle(call, attempt)
            )
        except scripted.ScriptedFailure as failure:
            raise ModelCallError(failure.kind, str(failure), retry_after=failure.retry_after, model=call.model) from None
        return out.text, out.prompt_tokens, out.completion_tokens, 0.0, call.model
    litellm = litellm_module()
    target = litellm_setup.router().acompletion if routed else litellm.acompletion
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


async def _sleep(delay: float) -> None:
    # Looked up on the package, so tests can `monkeypatch.setattr(agents.gateway, "_sleep", ...)`.
    from agents import gateway

    await gateway._sleep(delay)


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


async def _limited_attempt(limiter: Any, call: ModelCall, attempt: int, mode: str) -> tuple[str, int, int, float, str]:
    estimate = estimate_tokens(call.messages, call.max_tokens)
    await limiter.acquire(call.model, estimate)
    used = 0
    try:
        out = await _attempt(call, attempt, mode)
        used = out[1] + out[2]
        return out
    finally:
        await limiter.release(call.model, estimate, used)


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
    limiter = _LIMITER.get()  # --limit (agents/limits.py): shared per-provider limits
    if limiter is not None and not limiter.applies(call.model):
        limiter = None
    while True:
        try:
            if limiter is None:
                text, prompt, completion, cost, served = await _attempt(call, attempt, mode)
            else:
                text, prompt, completion, cost, served = await _limited_attempt(limiter, call, attempt, mode)
            break
        except ModelCallError as error:
            new_mode, delay = _next_step(call, error, attempt, mode)
            if limiter is not None and error.kind == "rate_limit":  # hold the provider back for every run
                await limiter.throttled(call.model, delay if delay is not None else backoff_delay(error, attempt))
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

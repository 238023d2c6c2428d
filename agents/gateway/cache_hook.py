"""The response cache hook (`grandrounds batch --cache`, see agents/cache.py): calls made in a context
with a cache are served from it and stored in it."""

from __future__ import annotations

import contextvars
from typing import Any

from agents.gateway.calls import ModelCall, ModelReply
from transcripts.events import Usage

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

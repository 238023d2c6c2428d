"""litellm set-up: the one module that imports litellm (lazily, once), registers the built-in
providers as litellm custom handlers, and holds the router and the scripted fast-path switch."""

from __future__ import annotations

import logging
import os
import threading
from typing import Any

from agents.providers import scripted

OWN_PROVIDERS = ("local", "scripted")

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


def loaded() -> Any:
    """litellm if it has been imported by `litellm_module`, else None (never imports it)."""
    return _LITELLM


def fast_scripted() -> bool:
    return _FAST_SCRIPTED


def router() -> Any:
    return _ROUTER


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


def provider_problem(model: str) -> str | None:
    """Why litellm cannot route `model` (no or unknown provider), or None. Imports litellm (lazily);
    router model names and the built-in `scripted/` and `local/` models are always routable."""
    if model in _ROUTER_NAMES or _is_scripted(model) or model.startswith("local/"):
        return None
    litellm = litellm_module()
    try:
        litellm.get_llm_provider(model)
    except Exception:  # noqa: BLE001 - litellm raises its own BadRequestError subclasses
        prefix = _provider(model)
        known = sorted(str(getattr(p, "value", p)) for p in getattr(litellm, "provider_list", []))
        close = [p for p in known if prefix and (p.startswith(prefix[:3]) or prefix.startswith(p[:3]))][:5]
        hint = f"; did you mean {', '.join(close)}?" if close else f"; use provider/model, e.g. openai/gpt-4o-mini ({len(known)} providers known to litellm)"
        what = f"unknown provider {prefix!r}" if prefix else "no provider"
        return f"model {model!r}: {what}{hint}"
    return None

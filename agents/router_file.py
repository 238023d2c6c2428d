"""`--router FILE`: a litellm Router from a YAML file in litellm's own `model_list` format.

The file has the shape of litellm proxy's config (only these two keys are read):

    model_list:
      - model_name: council                      # the name a team (or --model) uses
        litellm_params:
          model: openai/Qwen2.5-7B-Instruct      # what litellm calls
          api_base: http://10.0.0.5:8000/v1
          api_key: os.environ/VLLM_KEY           # keys only as os.environ/NAME
      - model_name: council
        litellm_params: {model: openai/Qwen2.5-7B-Instruct, api_base: http://10.0.0.6:8000/v1, api_key: os.environ/VLLM_KEY}
    router_settings:                             # optional: litellm.Router arguments
      routing_strategy: simple-shuffle
      cooldown_time: 30

A team's model names then resolve to several deployments with litellm's routing and cooldowns.
Secrets (`api_key` and every field whose name says key, token, secret or password) must be written as
`os.environ/NAME`; the Router reads the variable itself when it calls, so no key is read into
grandrounds, and nothing of the file but the model names reaches a transcript. A literal secret, a
missing variable, or a malformed entry is a `RouterFileError` naming the file and the field.
"""

from __future__ import annotations

import inspect
import os
import re
from pathlib import Path
from typing import Any

from scenarios.yamlsafe import YamlError, format_path, load_yaml

__all__ = ["RouterFileError", "load_router_config", "build_router", "install_router_file"]

ENV_PREFIX = "os.environ/"
_SECRET_FIELD = re.compile(r"key|token|secret|password|credential", re.IGNORECASE)
# Placeholders local servers accept instead of a key; harmless to write literally.
_NO_KEY = frozenset({"", "none", "empty", "dummy", "no-key", "not-needed", "sk-no-key-required"})
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
TOP_KEYS = ("model_list", "router_settings")


class RouterFileError(ValueError):
    """A router file that cannot be used. `str()` is `file:line: field: problem`."""


def _fail(path: Path, lines: Any, loc: list[str | int], message: str) -> RouterFileError:
    where = f"{path}:{lines.line_for(loc)}" if lines is not None else str(path)
    field = format_path(loc)
    return RouterFileError(f"{where}: {field}: {message}" if field else f"{where}: {message}")


def _router_arguments() -> set[str]:
    from agents.gateway import litellm_module

    params = inspect.signature(litellm_module().Router.__init__).parameters
    return {name for name in params if name not in ("self", "model_list", "kwargs", "args")}


def _check_secrets(path: Path, lines: Any, node: Any, loc: list[str | int]) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            here = [*loc, key]
            if isinstance(value, str) and _SECRET_FIELD.search(str(key)):
                if value.startswith(ENV_PREFIX):
                    name = value[len(ENV_PREFIX):]
                    if not _ENV_NAME.match(name):
                        raise _fail(path, lines, here, f"{value!r} is not os.environ/NAME with a variable name")
                    if name not in os.environ:
                        raise _fail(path, lines, here, f"environment variable {name} is not set")
                elif value.strip().lower() not in _NO_KEY:
                    raise _fail(path, lines, here, "write secrets as os.environ/NAME, never in the file")
            else:
                _check_secrets(path, lines, value, here)
    elif isinstance(node, list):
        for i, value in enumerate(node):
            _check_secrets(path, lines, value, [*loc, i])


def load_router_config(path: str | Path) -> dict[str, Any]:
    """The validated `{model_list, router_settings}` of a router file (secrets left as os.environ/NAME)."""
    p = Path(path)
    try:
        data, lines = load_yaml(p)
    except YamlError as exc:
        raise RouterFileError(str(exc)) from None
    if not isinstance(data, dict):
        raise _fail(p, lines, [], "a router file is a mapping with a model_list (litellm's Router / proxy config format)")
    unknown = [k for k in data if k not in TOP_KEYS and k not in ("litellm_settings", "general_settings", "environment_variables")]
    if unknown:
        raise _fail(p, lines, [unknown[0]], f"unknown key (a router file has {', '.join(TOP_KEYS)})")
    model_list = data.get("model_list")
    if not isinstance(model_list, list) or not model_list:
        raise _fail(p, lines, ["model_list"], "required: a non-empty list of {model_name, litellm_params}")
    for i, entry in enumerate(model_list):
        loc: list[str | int] = ["model_list", i]
        if not isinstance(entry, dict):
            raise _fail(p, lines, loc, "each deployment is a mapping with model_name and litellm_params")
        name = entry.get("model_name")
        if not isinstance(name, str) or not name.strip():
            raise _fail(p, lines, [*loc, "model_name"], "required: the model name teams use (a non-empty string)")
        params = entry.get("litellm_params")
        if not isinstance(params, dict):
            raise _fail(p, lines, [*loc, "litellm_params"], "required: a mapping with at least `model`")
        model = params.get("model")
        if not isinstance(model, str) or not model.strip():
            raise _fail(p, lines, [*loc, "litellm_params", "model"], "required: the litellm model to call, e.g. openai/NAME")
        if name.startswith("local/") and not model.startswith("local/"):
            raise _fail(p, lines, [*loc, "model_name"], "names under local/ belong to the embedded model")
    settings = data.get("router_settings") or {}
    if not isinstance(settings, dict):
        raise _fail(p, lines, ["router_settings"], "must be a mapping of litellm.Router arguments")
    allowed = _router_arguments()
    for key in settings:
        if key not in allowed:
            raise _fail(p, lines, ["router_settings", key], "not a litellm.Router argument")
    _check_secrets(p, lines, data, [])
    return {"model_list": model_list, "router_settings": dict(settings)}


def build_router(path: str | Path) -> Any:
    """A litellm Router over the file's deployments."""
    config = load_router_config(path)
    from agents.gateway import litellm_module

    settings = {"num_retries": 0} | config["router_settings"]  # the gateway retries, and records retries
    try:
        return litellm_module().Router(model_list=config["model_list"], **settings)
    except Exception as exc:  # noqa: BLE001 - litellm's own validation: still one line
        from agents.gateway import redact

        first = redact(str(exc)).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise RouterFileError(f"{path}: litellm refused the router: {first}") from None


def install_router_file(path: str | Path) -> list[str]:
    """Build the router and send calls for its model names through it; returns the names."""
    from agents import gateway

    router = build_router(path)
    gateway.set_router(router)
    return sorted({str(d["model_name"]) for d in router.model_list if isinstance(d, dict) and d.get("model_name")})

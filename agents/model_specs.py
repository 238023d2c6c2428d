"""Model names checked before the first call, so a bad one never becomes a (failed, "finished") result.

`model_problems(models)` returns one-line problems for: an empty name, an unknown scripted policy or
option, a non-numeric, NaN, infinite or out-of-range option, scripted failure rates summing above 1,
and a provider litellm does not know (asked through the gateway, lazily: only for non-built-in names).

`AuthenticationFailed` ends a run at the first 401/403 (no retries, no further members); a batch stops
launching runs after `AUTH_FAILURES_TO_STOP` runs ended that way.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["AUTH_FAILURES_TO_STOP", "AUTH_REASON", "AuthenticationFailed", "model_problems"]

AUTH_FAILURES_TO_STOP = 3
AUTH_REASON = "AuthenticationFailed"


class AuthenticationFailed(Exception):
    """The provider refused the credentials: every further call of this run would fail the same way."""


def model_problems(models: Iterable[str | None]) -> list[str]:
    from agents.providers.scripted import PROVIDER, ScriptedFailure, parse_model

    problems: list[str] = []
    others: list[str] = []
    for model in dict.fromkeys(models):
        if model is None:
            continue
        if not str(model).strip():
            problems.append("a member's model is empty (''); give a model name, or remove `model:` to use the team's")
        elif model.startswith(PROVIDER + "/"):
            try:
                parse_model(model)
            except ScriptedFailure as exc:
                problems.append(str(exc))
        elif not model.startswith("local/"):
            others.append(model)
    if others:
        from agents.gateway import provider_problem

        problems += [p for p in (provider_problem(m) for m in others) if p]
    return problems

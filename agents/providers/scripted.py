"""The scripted model: deterministic, schema-valid replies built from the scenario, for tests and benchmarks.

Model names are `scripted/<policy>[?opt=val&...]` (litellm hands the provider everything after
`scripted/`, query string included). Policies make every member and the chair pick, for each
conflict, an option of one verdict:

- `preferred`, `acceptable`, `unacceptable`: that verdict, or the nearest one when a conflict has
  none (acceptable -> preferred -> unacceptable; unacceptable -> acceptable -> preferred);
- `mixed`: a pseudo-random verdict per conflict, fixed by the run's seed.

Options (all optional): `latency` (seconds slept per call), `timeout_rate`, `rate_limit_rate`,
`server_error_rate`, `malformed_rate` (shares of calls that fail that way), `retry_after` (seconds
announced by an injected rate limit, default 0.05), `fail_seed` (mixes into which calls fail).
Whether a call fails is a pure function of the options, the seed, the request's content and its
attempt numbers, so a batch fails the same way every time it is run.

The reply for a call comes from a builder registered for its kind (`turn`, `resolution`,
`chair_decision` built in; `register_builder` adds more, e.g. the scorer's `judge`). Builders read the
call's `context` (see docs/CONTRACTS.md): scenario, member, round, members, revealed, and optionally
turn_counts, previous_speaker, max_rounds, attempt.

`COUNTER` counts calls in flight (and, with GRANDROUNDS_SCRIPTED_COUNTER=FILE, across processes), so
tests can prove that a `--limit` holds.

This module does not import litellm: `agents.gateway` wraps it in a litellm CustomLLM and also calls
it directly (a fast path with the same semantics) when no litellm routing is needed.
"""

from __future__ import annotations

import asyncio
import contextvars
import hashlib
import math
import random
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Callable
from urllib.parse import parse_qsl

from pydantic_core import to_json

from scenarios.model import Scenario

__all__ = [
    "POLICIES",
    "CALL_CONTEXT",
    "ScriptedConfig",
    "ScriptedFailure",
    "ScriptedReply",
    "ScriptedRequest",
    "parse_model",
    "register_builder",
    "builders",
    "reply",
    "areply",
]

PROVIDER = "scripted"
POLICIES: tuple[str, ...] = ("preferred", "acceptable", "unacceptable", "mixed")
_FALLBACK: dict[str, tuple[str, ...]] = {
    "preferred": ("preferred", "acceptable", "unacceptable"),
    "acceptable": ("acceptable", "preferred", "unacceptable"),
    "unacceptable": ("unacceptable", "acceptable", "preferred"),
}
_RATE_OPTIONS = ("timeout_rate", "rate_limit_rate", "server_error_rate", "malformed_rate")
_FLOAT_OPTIONS = ("latency", "retry_after") + _RATE_OPTIONS
_INT_OPTIONS = ("fail_seed",)

# What the gateway knows about the call in flight: kind, context, seed and transport attempt.
# Set by agents.gateway around the litellm call (custom handlers run in the caller's task) and read
# by the handler; never sent anywhere.
CALL_CONTEXT: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar("grandrounds_call_context", default=None)


class ScriptedFailure(Exception):
    """An injected or request failure; `kind` uses the gateway's error kinds."""

    def __init__(self, kind: str, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.retry_after = retry_after


@dataclass(frozen=True)
class ScriptedConfig:
    policy: str
    latency: float = 0.0
    timeout_rate: float = 0.0
    rate_limit_rate: float = 0.0
    server_error_rate: float = 0.0
    malformed_rate: float = 0.0
    retry_after: float = 0.05
    fail_seed: int | None = None

    @property
    def injects_failures(self) -> bool:
        return any(getattr(self, name) > 0 for name in _RATE_OPTIONS)


@lru_cache(maxsize=256)
def parse_model(model: str) -> ScriptedConfig:
    """Parse `scripted/<policy>[?opt=val&...]` (the `scripted/` prefix is optional)."""
    name = model.split("/", 1)[1] if model.startswith(PROVIDER + "/") else model
    policy, _, query = name.partition("?")
    if policy not in POLICIES:
        raise ScriptedFailure(
            "bad_request",
            f"unknown scripted policy {policy!r} in model {model!r}; use one of: {', '.join(POLICIES)}",
        )
    values: dict[str, Any] = {}
    for key, raw in parse_qsl(query, keep_blank_values=True):
        try:
            if key in _FLOAT_OPTIONS:
                values[key] = float(raw)
            elif key in _INT_OPTIONS:
                values[key] = int(raw)
            else:
                known = ", ".join(_FLOAT_OPTIONS + _INT_OPTIONS)
                raise ScriptedFailure("bad_request", f"unknown option {key!r} in model {model!r}; options: {known}")
        except ValueError:
            raise ScriptedFailure("bad_request", f"option {key}={raw!r} in model {model!r} is not a number") from None
        if not math.isfinite(values[key]):
            raise ScriptedFailure("bad_request", f"option {key}={raw!r} in model {model!r} must be a finite number")
        if key in _RATE_OPTIONS and not 0.0 <= values[key] <= 1.0:
            raise ScriptedFailure("bad_request", f"option {key}={raw} in model {model!r} must be between 0 and 1")
        if key in ("latency", "retry_after") and values[key] < 0:
            raise ScriptedFailure("bad_request", f"option {key}={raw} in model {model!r} must not be negative")
    total = sum(values.get(name, 0.0) for name in _RATE_OPTIONS)
    if total > 1.0 + 1e-9:
        raise ScriptedFailure("bad_request", f"failure rates in model {model!r} sum to {total:g}; they must sum to at most 1")
    return ScriptedConfig(policy=policy, **values)


# -- the case, as the builders need it ------------------------------------------------------------


@dataclass(frozen=True)
class _Option:
    id: str
    text: str
    verdict: str
    rationale: str


@dataclass(frozen=True)
class _Conflict:
    id: str
    title: str
    dimensions: tuple[str, ...]
    description: str
    options: tuple[_Option, ...]


@dataclass(frozen=True)
class Case:
    """The parts of a scenario the scripted replies use, read once per scenario object."""

    id: str
    facts: tuple[tuple[str, str, Any], ...]  # (id, text, visibility)
    conflicts: tuple[_Conflict, ...]
    ground_truth: dict[str, Any] | None
    # Reply parts fixed by the case and the policy, built once per case (scripted_replies fills it).
    parts: dict[Any, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def of(cls, scenario: Any) -> Case:
        data = scenario.model_dump(mode="json") if isinstance(scenario, Scenario) else scenario
        if not isinstance(data, dict):
            raise ScriptedFailure("bad_request", "the scripted model needs context['scenario'] (the scenario as a JSON dict)")
        return cls(
            id=str(data.get("id", "")),
            facts=tuple((f["id"], f.get("text", ""), f.get("visibility", "all")) for f in data.get("facts", [])),
            conflicts=tuple(
                _Conflict(
                    id=c["id"],
                    title=c.get("title", c["id"]),
                    dimensions=tuple(c.get("dimensions") or ("accountability",)),
                    description=c.get("description", ""),
                    options=tuple(
                        _Option(o["id"], o.get("text", o["id"]), o.get("verdict", "acceptable"), o.get("rationale", ""))
                        for o in c.get("options", [])
                    ),
                )
                for c in data.get("conflicts", [])
            ),
            ground_truth=data.get("ground_truth"),
        )

    def visible_fact_ids(self, role: str, revealed: set[str]) -> list[str]:
        out = []
        for fid, _text, vis in self.facts:
            if vis == "all" or fid in revealed or (isinstance(vis, list) and role in vis):
                out.append(fid)
        return out

    def fact_text(self, fact_id: str) -> str:
        return next((t for fid, t, _v in self.facts if fid == fact_id), "")

    def on_request_ids(self) -> list[str]:
        return [fid for fid, _t, vis in self.facts if vis == "on_request"]


# The engine passes the same scenario dict to every call of a run: keep the parsed form keyed by the
# object's identity (the cache holds the object, so its id cannot be reused while cached).
_CASES: OrderedDict[int, tuple[Any, Case]] = OrderedDict()
_CASES_MAX = 64


def _case(scenario: Any) -> Case:
    key = id(scenario)
    hit = _CASES.get(key)
    if hit is not None and hit[0] is scenario:
        return hit[1]
    case = Case.of(scenario)
    _CASES[key] = (scenario, case)
    if len(_CASES) > _CASES_MAX:
        _CASES.popitem(last=False)
    return case


# -- requests and the builder registry ------------------------------------------------------------


@dataclass
class ScriptedRequest:
    """What a builder sees: the parsed model name, the call's kind, seed, messages and context."""

    config: ScriptedConfig
    kind: str
    seed: int
    messages: list[dict[str, Any]]
    context: dict[str, Any] = field(default_factory=dict)
    _case: Case | None = None

    @property
    def policy(self) -> str:
        return self.config.policy

    @property
    def case(self) -> Case:
        if self._case is None:
            self._case = _case(self.context.get("scenario"))
        return self._case

    @property
    def member(self) -> str:
        return str(self.context.get("member") or "member")

    @property
    def round(self) -> int:
        return int(self.context.get("round") or 1)

    @property
    def members(self) -> list[str]:
        return list(self.context.get("members") or [self.member])

    @property
    def revealed(self) -> set[str]:
        return set(self.context.get("revealed") or ())

    def rng(self, *salt: Any) -> random.Random:
        """A generator fixed by the seed, the policy and `salt` (str seeds hash the same in every process)."""
        return random.Random("|".join(map(str, (self.seed, self.policy) + salt)))

    def verdict_for(self, conflict_id: str) -> str:
        if self.policy != "mixed":
            return self.policy
        run_seed = self.context.get("seed", self.seed)
        return random.Random(f"mixed|{run_seed}|{conflict_id}").choice(("preferred", "acceptable", "unacceptable"))

    def choose(self, conflict: _Conflict) -> _Option:
        """The option this policy picks for a conflict (first of the wanted verdict, else the nearest)."""
        for verdict in _FALLBACK[self.verdict_for(conflict.id)]:
            for option in conflict.options:
                if option.verdict == verdict:
                    return option
        return conflict.options[0]


Builder = Callable[[ScriptedRequest], "dict[str, Any] | str"]
_BUILDERS: dict[str, Builder] = {}


def register_builder(kind: str, fn: Builder) -> None:
    """Make the scripted model answer calls of `kind` with `fn(request)` (a dict is sent as JSON)."""
    _BUILDERS[kind] = fn


def builders() -> tuple[str, ...]:
    return tuple(sorted(_BUILDERS))


from agents.providers.scripted_replies import (  # noqa: E402  (the built-in builders)
    MAX_ITEMS,
    build_chair_decision,
    build_resolution,
    build_turn,
)

register_builder("turn", build_turn)
register_builder("resolution", build_resolution)
register_builder("chair_decision", build_chair_decision)


# -- failures and the reply ----------------------------------------------------------------------


def _fate(req: ScriptedRequest, transport_attempt: int) -> float:
    """A number in [0, 1) fixed by the options, seed, request content and attempt numbers."""
    cfg = req.config
    h = hashlib.blake2b(digest_size=8)
    key = (cfg.fail_seed, req.seed, req.kind, req.member, req.round, req.context.get("attempt", 0), transport_attempt)
    h.update(repr(key).encode())
    for message in req.messages:
        h.update(str(message.get("content", "")).encode("utf-8", "replace"))
        h.update(b"\x00")
    return int.from_bytes(h.digest(), "big") / 2.0**64


def _decide_failure(req: ScriptedRequest, transport_attempt: int) -> str | None:
    cfg = req.config
    if not cfg.injects_failures:
        return None
    x = _fate(req, transport_attempt)
    for name in _RATE_OPTIONS:
        rate = getattr(cfg, name)
        if x < rate:
            return name.removesuffix("_rate")
        x -= rate
    return None


@dataclass
class ScriptedReply:
    text: str
    prompt_tokens: int
    completion_tokens: int


def _request(model: str, messages: list[dict[str, Any]], seed: int | None, kind: str | None, call: dict[str, Any] | None) -> ScriptedRequest:
    call = call or {}
    config = parse_model(model)
    kind = kind or call.get("kind") or "turn"
    if kind not in _BUILDERS:
        raise ScriptedFailure(
            "bad_request",
            f"the scripted model has no reply builder for kind {kind!r} (known: {', '.join(builders())}); "
            "add one with agents.providers.scripted.register_builder",
        )
    seed = call.get("seed", seed)
    return ScriptedRequest(config=config, kind=kind, seed=int(seed or 0), messages=messages, context=call.get("context") or {})


def _produce(req: ScriptedRequest, failure: str | None) -> ScriptedReply:
    if failure == "timeout":
        raise ScriptedFailure("timeout", f"injected timeout (scripted/{req.policy})")
    if failure == "rate_limit":
        raise ScriptedFailure("rate_limit", f"injected rate limit (scripted/{req.policy})", retry_after=req.config.retry_after)
    if failure == "server_error":
        raise ScriptedFailure("server", f"injected server error (scripted/{req.policy})")
    body = _BUILDERS[req.kind](req)
    # Compact JSON, as most providers' structured output is; pydantic-core's serializer takes a
    # quarter of json.dumps' time, which the engine benchmark counts as the model's.
    text = body if isinstance(body, str) else to_json(body).decode("utf-8")
    if failure == "malformed":
        text = "Here is my answer: " + text[: max(8, len(text) // 3)]
    prompt_chars = sum(len(str(m.get("content", ""))) for m in req.messages)
    return ScriptedReply(text=text, prompt_tokens=max(1, prompt_chars // 4), completion_tokens=max(1, len(text) // 4))


def reply(
    model: str,
    messages: list[dict[str, Any]],
    *,
    seed: int | None = 0,
    kind: str | None = None,
    timeout_s: float | None = None,
    call: dict[str, Any] | None = None,
) -> ScriptedReply:
    """One scripted reply (blocking). `call` is what the gateway put in CALL_CONTEXT, if anything."""
    call = call if call is not None else CALL_CONTEXT.get()
    req = _request(model, messages, seed, kind, call)
    failure = _decide_failure(req, int((call or {}).get("transport_attempt", 0)))
    delay = _delay(req.config.latency, timeout_s)
    if delay > 0:
        time.sleep(delay)
    _check_latency(req.config.latency, timeout_s)
    return _produce(req, failure)


async def areply(
    model: str,
    messages: list[dict[str, Any]],
    *,
    seed: int | None = 0,
    kind: str | None = None,
    timeout_s: float | None = None,
    call: dict[str, Any] | None = None,
) -> ScriptedReply:
    """One scripted reply; the latency is an asyncio sleep, so many calls overlap."""
    call = call if call is not None else CALL_CONTEXT.get()
    req = _request(model, messages, seed, kind, call)
    failure = _decide_failure(req, int((call or {}).get("transport_attempt", 0)))
    delay = _delay(req.config.latency, timeout_s)
    COUNTER.enter()
    try:
        if delay > 0:
            await asyncio.sleep(delay)
    finally:
        COUNTER.exit()
    _check_latency(req.config.latency, timeout_s)
    return _produce(req, failure)


def _delay(latency: float, timeout_s: float | None) -> float:
    return min(latency, timeout_s) if timeout_s is not None else latency


def _check_latency(latency: float, timeout_s: float | None) -> None:
    if timeout_s is not None and latency > timeout_s:
        raise ScriptedFailure("timeout", f"scripted latency {latency}s exceeds the call's timeout of {timeout_s}s")


# Calls in flight, counted so a test can prove a provider limit is never exceeded.
from agents.providers.scripted_counter import COUNTER, COUNTER_ENV, CallCounter, read_shared  # noqa: E402,F401


# The scorer's judge calls (kind "judge") are answered by the scripted judge.
from agents.providers.scripted_judge import build_judgement as _build_judgement  # noqa: E402

register_builder("judge", _build_judgement)

from agents.providers import scripted_steps as _scripted_steps  # noqa: E402,F401  (registers kind "step")

"""OpenTelemetry traces of runs (`--otel`, GRANDROUNDS_OTEL_ENDPOINT), GenAI semantic conventions.

Follows the OpenTelemetry semantic conventions **v1.44.0** for generative AI (spans and the
`gen_ai.evaluation.result` event; the GenAI conventions are still marked "development" upstream), as
shipped in `opentelemetry-semantic-conventions` 0.66b2; the tracer carries that schema URL.

Span tree, per run:

    grandrounds.run <scenario>           gen_ai.operation.name=invoke_workflow, gen_ai.conversation.id=<run id>,
    │                                    grandrounds.* (scenario, team, protocol, seed, status, reason, tokens)
    │                                    events: gen_ai.evaluation.result (overall, each dimension, each conflict verdict)
    ├── invoke_agent <member>           gen_ai.operation.name=invoke_agent, gen_ai.agent.name=<member>,
    │   │                                grandrounds.purpose (turn | resolution | chair_decision), .round, .attempts, .ok
    │   └── chat <model>                 gen_ai.operation.name=chat, gen_ai.provider.name, gen_ai.request.model,
    │                                    gen_ai.response.model, gen_ai.usage.input_tokens / output_tokens,
    │                                    gen_ai.request.temperature / max_tokens / seed, grandrounds.latency_s;
    │                                    on failure error.type (timeout, rate_limit, ...) and status ERROR
    └── ...

Nothing of a prompt or a reply is exported unless `content=True` (`--otel-content`): then model-call
spans get `gen_ai.input.messages` / `gen_ai.output.messages` and evaluation events their
explanations. API keys are never exported: no request headers or parameters beyond those above are
read, and every exported string goes through `agents.gateway.redact`.

The run span stays open after the run ends (its end time is the run's) until `flush()`, so the
scores computed afterwards (`run --score`, a batch's scoring phase) land on it as evaluation events.
OTLP over HTTP (`opentelemetry-exporter-otlp-proto-http`, the [otel] extra); tests pass their own
exporter. Off (the default), every hook here is a no-op costing one global lookup.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterator

__all__ = ["ENDPOINT_ENV", "SEMCONV_VERSION", "TelemetryUnavailable", "configure", "enabled", "flush", "run_span", "end_run",
           "member_span", "model_span", "outcome_span"]

ENDPOINT_ENV = "GRANDROUNDS_OTEL_ENDPOINT"
SEMCONV_VERSION = "1.44.0"
SCHEMA_URL = f"https://opentelemetry.io/schemas/{SEMCONV_VERSION}"
INSTALL_HINT = "install the [otel] extra: pip install -e '.[otel]'"
MAX_CONTENT_CHARS = 8000


class TelemetryUnavailable(RuntimeError):
    """The OpenTelemetry SDK (or the OTLP exporter) is not installed."""


class _State:
    def __init__(self, provider: Any, tracer: Any, content: bool) -> None:
        self.provider = provider
        self.tracer = tracer
        self.content = content
        self.lock = threading.Lock()
        self.open_runs: dict[str, tuple[Any, Path, int]] = {}  # run id -> (span, transcript, end time ns)


_STATE: _State | None = None


def enabled() -> bool:
    return _STATE is not None


def configure(endpoint: str | None = None, *, content: bool = False, exporter: Any | None = None) -> None:
    """Start tracing: to the OTLP/HTTP `endpoint` (e.g. http://127.0.0.1:4318, `/v1/traces` is added
    when missing), or to `exporter` (tests). Replaces an earlier configuration."""
    global _STATE
    try:
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
    except ImportError as exc:
        raise TelemetryUnavailable(f"OpenTelemetry is not installed ({exc.name}); {INSTALL_HINT}") from None
    if exporter is None:
        try:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        except ImportError as exc:
            raise TelemetryUnavailable(f"the OTLP HTTP exporter is not installed ({exc.name}); {INSTALL_HINT}") from None
        url = (endpoint or os.environ.get(ENDPOINT_ENV) or "http://127.0.0.1:4318").rstrip("/")
        if not url.endswith("/v1/traces"):
            url += "/v1/traces"
        processor: Any = BatchSpanProcessor(OTLPSpanExporter(endpoint=url))
    else:
        processor = SimpleSpanProcessor(exporter)
    from importlib.metadata import PackageNotFoundError, version

    try:
        ours = version("grandrounds")
    except PackageNotFoundError:  # pragma: no cover
        ours = "0"
    provider = TracerProvider(resource=Resource.create({"service.name": "grandrounds", "service.version": ours}))
    provider.add_span_processor(processor)
    if _STATE is not None:
        flush()
    # A provider of our own, not the global one: grandrounds used as a library does not take over
    # the host application's tracing.
    _STATE = _State(provider, provider.get_tracer("grandrounds", ours, schema_url=SCHEMA_URL), content)


def _clean(text: Any) -> str:
    from agents.gateway import redact

    return redact(str(text))


def _content_json(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return _clean(text)[:MAX_CONTENT_CHARS]


# -- runs ---------------------------------------------------------------------------------------------


@contextlib.contextmanager
def run_span(spec: Any) -> Iterator[None]:
    """The run's span as the current span for everything the run does (no-op when off)."""
    state = _STATE
    if state is None:
        yield
        return
    from opentelemetry import trace

    span = state.tracer.start_span(
        f"grandrounds.run {spec.scenario.id}",
        kind=trace.SpanKind.INTERNAL,
        attributes={
            "gen_ai.operation.name": "invoke_workflow",
            "gen_ai.conversation.id": spec.run_id,
            "grandrounds.run_id": spec.run_id,
            "grandrounds.scenario.id": spec.scenario.id,
            "grandrounds.team.id": spec.team.id,
            "grandrounds.protocol": spec.team.protocol,
            "grandrounds.seed": spec.seed,
            "grandrounds.batch": spec.batch,
            "grandrounds.models": sorted(set(spec.models.values())),
        },
    )
    with state.lock:
        state.open_runs[spec.run_id] = (span, Path(spec.path), 0)
    with trace.use_span(span, end_on_exit=False, record_exception=False, set_status_on_exception=False):
        yield


def end_run(run_id: str, status: str, reason: str, usage: Any, turns: int) -> None:
    """Record the run's outcome; the span ends at `flush()` (after scoring), with this end time."""
    state = _STATE
    if state is None:
        return
    from opentelemetry.trace import Status, StatusCode

    with state.lock:
        entry = state.open_runs.get(run_id)
        if entry is None:
            return
        span, path, _ = entry
        state.open_runs[run_id] = (span, path, time.time_ns())
    span.set_attribute("grandrounds.status", status)
    span.set_attribute("grandrounds.turns", turns)
    span.set_attribute("gen_ai.usage.input_tokens", int(usage.prompt_tokens))
    span.set_attribute("gen_ai.usage.output_tokens", int(usage.completion_tokens))
    span.set_attribute("grandrounds.cost_usd", float(usage.cost_usd))
    if reason:
        span.set_attribute("grandrounds.reason", _clean(reason)[:500])
    if status == "failed":
        span.set_status(Status(StatusCode.ERROR, _clean(reason)[:200]))
        span.set_attribute("error.type", "run_failed")
    elif status == "interrupted":
        span.set_attribute("error.type", "interrupted")


def _evaluations(span: Any, path: Path, content: bool) -> None:
    from transcripts.store import read_transcript

    score = read_transcript(path).latest_score()
    if score is None or score.scorecard is None:
        return
    card = score.scorecard.model_dump(mode="json") if hasattr(score.scorecard, "model_dump") else dict(score.scorecard)
    items = {i.get("id"): i for i in card.get("items") or [] if isinstance(i, dict)}

    def event(name: str, value: Any, label: str | None, explanation: str | None) -> None:
        attrs: dict[str, Any] = {"gen_ai.evaluation.name": name}
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            attrs["gen_ai.evaluation.score.value"] = float(value)
        if label:
            attrs["gen_ai.evaluation.score.label"] = label
        if content and explanation:
            attrs["gen_ai.evaluation.explanation"] = _clean(explanation)[:MAX_CONTENT_CHARS]
        if score.judge:
            attrs["grandrounds.judge"] = score.judge
        span.add_event("gen_ai.evaluation.result", attrs)

    event("overall", card.get("overall"), card.get("status"), None)
    for dim, data in (card.get("dimensions") or {}).items():
        if isinstance(data, dict):
            reasons = "; ".join(str(items.get(i, {}).get("reason", "")) for i in data.get("items") or [])
            event(dim, data.get("score"), None, reasons)
    for conflict in card.get("conflicts") or []:
        if isinstance(conflict, dict):
            item = items.get(f"conflict:{conflict.get('id')}", {})
            earned, possible = item.get("earned"), item.get("possible")
            value = earned / possible if isinstance(earned, (int, float)) and possible else None
            event(f"conflict:{conflict.get('id')}", value, str(conflict.get("verdict") or "unaddressed"), item.get("reason"))


def flush() -> None:
    """Add the scores to each open run span, end the spans and export everything (call once, at the end)."""
    state = _STATE
    if state is None:
        return
    with state.lock:
        runs = list(state.open_runs.items())
        state.open_runs.clear()
    for _run_id, (span, path, end_ns) in runs:
        try:
            _evaluations(span, path, state.content)
        except Exception:  # noqa: BLE001 - a transcript that cannot be read still ends its span
            pass
        span.end(end_time=end_ns or None)
    state.provider.force_flush()


def shutdown() -> None:
    global _STATE
    state = _STATE
    if state is None:
        return
    flush()
    state.provider.shutdown()
    _STATE = None


# -- member turns and model calls ---------------------------------------------------------------------


class _Handle:
    """What the caller may add to an open span (a no-op when tracing is off)."""

    def __init__(self, span: Any | None, content: bool = False) -> None:
        self.span = span
        self.content = content

    def set(self, key: str, value: Any) -> None:
        if self.span is not None and value is not None:
            self.span.set_attribute(key, value)

    def fail(self, error_type: str, message: str) -> None:
        if self.span is not None:
            from opentelemetry.trace import Status, StatusCode

            self.span.set_attribute("error.type", error_type)
            self.span.set_status(Status(StatusCode.ERROR, _clean(message)[:200]))


_OFF = _Handle(None)


@contextlib.contextmanager
def member_span(member: str, purpose: str, round_no: int) -> Iterator[_Handle]:
    """One member's turn (or the chair's resolution / decision): the agent invocation."""
    state = _STATE
    if state is None:
        yield _OFF
        return
    from opentelemetry import trace

    with state.tracer.start_as_current_span(
        f"invoke_agent {member}",
        kind=trace.SpanKind.INTERNAL,
        attributes={"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": member, "grandrounds.purpose": purpose, "grandrounds.round": round_no},
        record_exception=False,
    ) as span:
        yield _Handle(span, state.content)


@contextlib.contextmanager
def outcome_span(member: str, purpose: str, round_no: int) -> Iterator[Callable[[Any], Any]]:
    """`member_span` for a turn composed elsewhere (a stepwise turn: its step calls are the model-call
    spans inside). Yields `done(outcome)`, which notes the outcome on the span and returns it."""
    with member_span(member, purpose, round_no) as span:
        def done(out: Any) -> Any:
            span.set("grandrounds.ok", out.value is not None)
            span.set("gen_ai.usage.input_tokens", out.usage.prompt_tokens)
            span.set("gen_ai.usage.output_tokens", out.usage.completion_tokens)
            if out.value is None:
                span.fail("invalid_reply", out.error or "no valid reply")
            return out

        yield done


def _provider_name(model: str) -> str:
    return model.split("/", 1)[0] if "/" in model else "unknown"


@contextlib.contextmanager
def model_span(call: Any) -> Iterator[_Handle]:
    """One model call through the gateway (transport retries and format fallbacks inside it)."""
    state = _STATE
    if state is None:
        yield _OFF
        return
    from opentelemetry import trace

    attributes: dict[str, Any] = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": _provider_name(call.model),
        "gen_ai.request.model": call.model,
        "gen_ai.request.temperature": float(call.temperature),
        "gen_ai.request.max_tokens": int(call.max_tokens),
        "gen_ai.request.seed": int(call.seed),
        "grandrounds.purpose": call.kind,
    }
    if state.content:
        attributes["gen_ai.input.messages"] = _content_json(call.messages)
    started = time.perf_counter()
    with state.tracer.start_as_current_span(f"chat {call.model}", kind=trace.SpanKind.CLIENT, attributes=attributes, record_exception=False) as span:
        handle = _Handle(span, state.content)
        try:
            yield handle
        finally:
            span.set_attribute("grandrounds.latency_s", round(time.perf_counter() - started, 6))


def model_reply(handle: _Handle, reply: Any) -> None:
    """Usage (and, with content, the reply) on a model-call span."""
    if handle.span is None:
        return
    usage = reply.usage
    handle.set("gen_ai.response.model", usage.model)
    handle.set("gen_ai.usage.input_tokens", int(usage.prompt_tokens))
    handle.set("gen_ai.usage.output_tokens", int(usage.completion_tokens))
    handle.set("grandrounds.cached", bool(usage.cached))
    if handle.content:
        handle.set("gen_ai.output.messages", _content_json([{"role": "assistant", "parts": [{"type": "text", "content": reply.text}]}]))

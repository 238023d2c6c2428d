"""OpenTelemetry traces (`--otel`): span tree, GenAI attributes, token counts, evaluation events,
no prompt or reply text unless asked, never a key. Against the SDK's in-memory exporter, and end to end
through `grandrounds run --otel-endpoint` to an OTLP/HTTP receiver started here on 127.0.0.1."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

pytest.importorskip("opentelemetry.sdk", reason="needs the [otel] extra")
pytest.importorskip("opentelemetry.exporter.otlp.proto.http", reason="needs the [otel] extra")

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest, ExportTraceServiceResponse  # noqa: E402
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter  # noqa: E402

from agents import telemetry  # noqa: E402
from agents.runner import RunSpec, run_sync  # noqa: E402
from openai_stub import StubServer  # noqa: E402
from transcripts.scoring import score_transcript  # noqa: E402
from transcripts.store import read_transcript  # noqa: E402
from tui.cli.loading import load_case, load_team_ref  # noqa: E402
from tui.cli.main import cli  # noqa: E402

CASE = "insulin-error-disclosure"
KEY = "sk-otel-test-secret-987654321"


@pytest.fixture(autouse=True)
def off() -> Iterator[None]:
    yield
    telemetry.shutdown()


def _run(tmp_path: Path, model: str = "scripted/mixed", team: str = "default") -> Path:
    scenario = load_case(CASE)
    team_obj, snapshot = load_team_ref(team)
    spec = RunSpec(scenario=scenario, team=team_obj, team_snapshot=snapshot, model=model, seed=0, batch="otel", out_dir=tmp_path)
    result = run_sync(spec)
    score_transcript(result.path)
    return result.path


def _values(spans: list[Any]) -> str:
    out = []
    for span in spans:
        out.extend(str(v) for v in span.attributes.values())
        for event in span.events:
            out.extend(str(v) for v in event.attributes.values())
    return "\n".join(out)


def test_span_tree_attributes_tokens_and_evaluations(tmp_path: Path) -> None:
    exporter = InMemorySpanExporter()
    telemetry.configure(exporter=exporter)
    path = _run(tmp_path)
    assert exporter.get_finished_spans() and all(s.name != f"grandrounds.run {CASE}" for s in exporter.get_finished_spans())  # open until flush
    telemetry.flush()
    spans = exporter.get_finished_spans()
    t = read_transcript(path)
    runs = [s for s in spans if s.name.startswith("grandrounds.run ")]
    assert len(runs) == 1
    run = runs[0]
    assert run.parent is None
    assert run.attributes["gen_ai.conversation.id"] == t.run_id
    assert run.attributes["grandrounds.status"] == "completed"
    assert run.instrumentation_scope.schema_url == "https://opentelemetry.io/schemas/1.44.0"
    agents = [s for s in spans if s.attributes.get("gen_ai.operation.name") == "invoke_agent"]
    calls = [s for s in spans if s.attributes.get("gen_ai.operation.name") == "chat"]
    assert {s.parent.span_id for s in agents} == {run.context.span_id}
    assert {s.parent.span_id for s in calls} <= {s.context.span_id for s in agents}
    turns = [s for s in agents if s.attributes["grandrounds.purpose"] == "turn"]
    assert sorted((s.attributes["gen_ai.agent.name"], s.attributes["grandrounds.round"]) for s in turns) == sorted((x.member, x.round) for x in t.turns)
    assert any(s.attributes["gen_ai.agent.name"] == "chair" and s.attributes["grandrounds.purpose"] == "resolution" for s in agents)
    # token counts: model-call spans add up to the transcript's totals
    assert sum(s.attributes["gen_ai.usage.input_tokens"] for s in calls) == t.ended.usage.prompt_tokens == run.attributes["gen_ai.usage.input_tokens"]
    assert sum(s.attributes["gen_ai.usage.output_tokens"] for s in calls) == t.ended.usage.completion_tokens
    assert all(s.attributes["gen_ai.request.model"] == "scripted/mixed" and s.attributes["gen_ai.provider.name"] == "scripted" for s in calls)
    assert all(s.attributes["grandrounds.latency_s"] >= 0 for s in calls)
    # scores and verdicts as gen_ai.evaluation.result events on the run span
    card = t.latest_score().scorecard.model_dump(mode="json")
    events = {e.attributes["gen_ai.evaluation.name"]: e.attributes for e in run.events if e.name == "gen_ai.evaluation.result"}
    assert events["overall"]["gen_ai.evaluation.score.value"] == card["overall"]
    for dim, data in card["dimensions"].items():
        assert events[dim].get("gen_ai.evaluation.score.value") == data["score"]
    for conflict in card["conflicts"]:
        assert events[f"conflict:{conflict['id']}"]["gen_ai.evaluation.score.label"] == conflict["verdict"]
    # no prompt or reply text without --otel-content
    text = _values(spans)
    assert "gen_ai.input.messages" not in str([s.attributes for s in spans])
    assert t.started.scenario["title"] not in text and t.started.scenario["question"][:40] not in text
    assert t.turns[0].turn["position"][:40] not in text
    assert all("gen_ai.evaluation.explanation" not in e for e in events.values())


def test_a_failed_model_call_is_an_error_span(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from agents import gateway

    async def no_sleep(seconds: float) -> None:
        pass

    monkeypatch.setattr(gateway, "_sleep", no_sleep)
    exporter = InMemorySpanExporter()
    telemetry.configure(exporter=exporter)
    _run(tmp_path, model="scripted/preferred?timeout_rate=0.5&fail_seed=3")
    telemetry.flush()
    failed = [s for s in exporter.get_finished_spans() if s.attributes.get("error.type") == "timeout"]
    assert failed and all(s.attributes["gen_ai.operation.name"] == "chat" and s.status.status_code.name == "ERROR" for s in failed)


class _Receiver:
    """A minimal OTLP/HTTP trace receiver: decodes each POST /v1/traces with the OTLP protobuf types."""

    def __init__(self) -> None:
        self.requests: list[ExportTraceServiceRequest] = []
        self.raw: list[bytes] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.path == "/v1/traces" and self.headers.get("Content-Type") == "application/x-protobuf":
                    request = ExportTraceServiceRequest()
                    request.ParseFromString(body)
                    receiver.requests.append(request)
                    receiver.raw.append(body)
                data = ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def spans(self) -> list[Any]:
        return [s for r in self.requests for rs in r.resource_spans for ss in rs.scope_spans for s in ss.spans]

    def __enter__(self) -> _Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def _attrs(span: Any) -> dict[str, Any]:
    out = {}
    for kv in span.attributes:
        v = kv.value
        out[kv.key] = v.string_value or v.int_value or v.double_value or v.bool_value
    return out


TEAM = """\
id: tiny-otel
model: openai/stub
protocol: round_robin
members:
  - {role: diagnostician, prompt: diagnostician}
  - {role: safety_critic, prompt: safety_critic}
chair: {role: chair, prompt: chair}
limits: {max_rounds: 1, max_turns: 4, timeout_s: 5, retries: 0}
"""


@pytest.mark.parametrize("content", [False, True])
def test_run_otel_endpoint_to_a_local_otlp_receiver(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, content: bool) -> None:
    from agents import gateway

    monkeypatch.setattr(gateway, "_FORMAT_FOR_MODEL", {})
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    team = tmp_path / "tiny-otel.yaml"
    team.write_text(TEAM)
    with _Receiver() as receiver, StubServer() as stub:
        monkeypatch.setenv("OPENAI_API_BASE", stub.url)
        args = ["run", CASE, "--team", str(team), "--out", str(tmp_path / "runs"), "--quiet", "--otel-endpoint", receiver.url]
        result = CliRunner().invoke(cli, args + (["--otel-content"] if content else []))
        assert result.exit_code == 0, result.output
        spans = receiver.spans()
    assert KEY not in b"".join(receiver.raw).decode("utf-8", "replace")
    t = read_transcript(next((tmp_path / "runs").glob("*.jsonl")))
    by_name: dict[str, list[Any]] = {}
    for span in spans:
        by_name.setdefault(span.name.split(" ")[0], []).append(span)
    assert len(by_name["grandrounds.run"]) == 1
    run = by_name["grandrounds.run"][0]
    assert _attrs(run)["gen_ai.conversation.id"] == t.run_id
    assert {_attrs(s)["gen_ai.agent.name"] for s in by_name["invoke_agent"]} == {"diagnostician", "safety_critic", "chair"}
    assert all(s.parent_span_id == run.span_id for s in by_name["invoke_agent"])
    calls = by_name["chat"]
    assert len(calls) == len(stub.requests) == 3
    assert sum(_attrs(s)["gen_ai.usage.input_tokens"] for s in calls) == t.ended.usage.prompt_tokens
    names = {e.name for e in run.events}
    assert names == {"gen_ai.evaluation.result"}
    overall = next(e for e in run.events if any(kv.key == "gen_ai.evaluation.name" and kv.value.string_value == "overall" for kv in e.attributes))
    assert {kv.key: kv.value.double_value for kv in overall.attributes}["gen_ai.evaluation.score.value"] == t.latest_score().scorecard.model_dump(mode="json")["overall"]
    has_messages = any("gen_ai.input.messages" in _attrs(s) for s in calls)
    assert has_messages is content
    if content:
        assert t.started.scenario["title"] in str([_attrs(s) for s in calls])


def test_otel_content_alone_is_a_one_line_error() -> None:
    result = CliRunner().invoke(cli, ["run", CASE, "--model", "scripted/preferred", "--otel-content", "--quiet"])
    assert result.exit_code == 2
    assert result.output.strip() == "grandrounds: error: --otel-content needs --otel or --otel-endpoint"


def test_stepwise_turns_are_agent_spans_holding_their_step_calls(tmp_path: Path) -> None:
    """A stepwise turn (the embedded model's style) is one invoke_agent span per member turn, with its
    short step calls as the model-call spans inside it, like a whole turn."""
    exporter = InMemorySpanExporter()
    telemetry.configure(exporter=exporter)
    scenario = load_case(CASE)
    team_obj, snapshot = load_team_ref("default")
    team_obj = team_obj.model_copy(update={"turn_style": "stepwise"})
    spec = RunSpec(scenario=scenario, team=team_obj, team_snapshot=snapshot, model="scripted/mixed", seed=0, batch="otel", out_dir=tmp_path)
    t = read_transcript(run_sync(spec).path)
    telemetry.flush()
    spans = exporter.get_finished_spans()
    agents = [s for s in spans if s.attributes.get("gen_ai.operation.name") == "invoke_agent"]
    calls = [s for s in spans if s.attributes.get("gen_ai.operation.name") == "chat"]
    turns = [s for s in agents if s.attributes["grandrounds.purpose"] == "turn"]
    assert sorted((s.attributes["gen_ai.agent.name"], s.attributes["grandrounds.round"]) for s in turns) == sorted((x.member, x.round) for x in t.turns)
    assert any(s.attributes["grandrounds.purpose"] == "resolution" for s in agents)
    assert len(calls) > len(agents) and {s.parent.span_id for s in calls} <= {s.context.span_id for s in agents}
    assert sum(s.attributes["gen_ai.usage.input_tokens"] for s in turns) == sum(x.usage.prompt_tokens for x in t.turns)

"""Real HTTP through litellm: batches against a local OpenAI-compatible server (tests/openai_stub.py).

Proves what a user pointing grandrounds at vLLM / Ollama / a proxy relies on: schema-constrained
replies make valid councils, 429 is retried after the server's Retry-After, a hung server times out
and the run goes on, 400 is not retried, a failing endpoint does not stop the batch, a litellm Router
spreads a batch over two endpoints, and the response cache makes a repeated batch free.
Everything is on 127.0.0.1; timeouts are short and the councils have one round.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agents import gateway
from agents.batch import plan_batch, run_batch
from agents.gateway import ModelCall, ModelCallError, acomplete
from agents.schemas import ChairDecision, Resolution, Turn, reply_schema
from openai_stub import StubServer, instance
from scenarios.loader import find_scenario, load_scenario
from transcripts.store import read_transcript

CASE = "insulin-error-disclosure"
MODEL = "openai/stub"

TEAM = """\
id: {id}
model: {model}
protocol: round_robin
members:
  - {{role: diagnostician, prompt: diagnostician}}
  - {{role: safety_critic, prompt: safety_critic}}
chair: {{role: chair, prompt: chair}}
limits: {{max_rounds: 1, max_turns: 4, timeout_s: {timeout}, retries: {retries}}}
sampling: {{temperature: 0.0, max_tokens: 300}}
"""


def write_team(folder: Path, team_id: str = "tiny", model: str = MODEL, timeout: float = 5, retries: int = 0) -> Path:
    path = folder / f"{team_id}.yaml"
    path.write_text(TEAM.format(id=team_id, model=model, timeout=timeout, retries=retries))
    return path


@pytest.fixture
def stub(monkeypatch: pytest.MonkeyPatch) -> Iterator[StubServer]:
    """A stub server that unrouted `openai/...` calls reach through OPENAI_API_BASE (how a user points
    litellm at a local server), with JSON-Schema replies requested."""
    with StubServer() as server:
        monkeypatch.setenv("OPENAI_API_BASE", server.url)
        monkeypatch.setenv("OPENAI_API_KEY", "sk-test-dummy-key")
        monkeypatch.setenv(gateway.RESPONSE_FORMAT_ENV, "json_schema")
        monkeypatch.setattr(gateway, "_FORMAT_FOR_MODEL", {})
        yield server


@pytest.fixture
def no_backoff(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    delays: list[float] = []

    async def record(seconds: float) -> None:
        delays.append(seconds)

    monkeypatch.setattr(gateway, "_sleep", record)
    return delays


@pytest.fixture
def router_off() -> Iterator[None]:
    yield
    gateway.set_router(None)


def _call(**kw: Any) -> ModelCall:
    return ModelCall(model=kw.pop("model", MODEL), messages=[{"role": "user", "content": "Reply in JSON."}], kind="chair_decision",
                     schema=reply_schema("chair_decision", None, ["diagnostician"]), timeout_s=kw.pop("timeout_s", 5), **kw)


# -- the stub's schema instances ------------------------------------------------------------------------------


def test_schema_instances_are_valid_replies() -> None:
    scenario = load_scenario(find_scenario(CASE))
    members = ["diagnostician", "safety_critic"]
    Turn.model_validate(instance(reply_schema("turn", scenario, members)))
    Resolution.model_validate(instance(reply_schema("resolution", scenario, members)))
    assert ChairDecision.model_validate(instance(reply_schema("chair_decision", scenario, members))).next_speaker == "diagnostician"
    tricky = {
        "type": "object",
        "required": ["pair", "pick", "many", "maybe", "n"],
        "properties": {
            "pair": {"type": "array", "prefixItems": [{"type": "string", "enum": ["C1"]}, {"type": "integer", "minimum": 3}]},
            "pick": {"anyOf": [{"type": "string", "enum": ["a", "b"]}, {"type": "null"}]},
            "many": {"type": "array", "minItems": 2, "items": {"type": "object", "required": ["id"], "properties": {"id": {"const": "x"}}}},
            "maybe": {"type": ["null", "boolean"]},
            "n": {"type": "number", "minimum": 0.5, "maximum": 1},
        },
    }
    assert instance(tricky) == {"pair": ["C1", 3], "pick": "a", "many": [{"id": "x"}, {"id": "x"}], "maybe": False, "n": 0.5}


# -- a batch over HTTP ------------------------------------------------------------------------------------------


async def test_batch_through_litellm_against_a_local_server(stub: StubServer, tmp_path: Path) -> None:
    team = write_team(tmp_path)
    plan = plan_batch([CASE], [str(team)], repeats=2, out_dir=tmp_path / "out")
    summary = await run_batch(plan, concurrency=2)
    assert summary.counts["completed"] == 2 and summary.counts["scored"] == 2
    assert stub.count == 2 * 3, "two members and the chair's resolution per run"
    sent = stub.requests[0]
    assert sent["model"] == "stub" and sent["response_format"]["type"] == "json_schema"
    assert "context" not in json.dumps(sent), "the scripted context never reaches a real provider"
    t = read_transcript(plan.runs[0].path)
    assert t.resolution.ok and [e.member for e in t.turns] == ["diagnostician", "safety_critic"]
    assert t.ended.usage.prompt_tokens > 0 and t.ended.usage.model == MODEL
    assert summary.run_usage.prompt_tokens == sum(read_transcript(s.path).ended.usage.prompt_tokens for s in plan.runs)

    again = await run_batch(plan_batch([CASE], [str(team)], repeats=2, out_dir=tmp_path / "out"), concurrency=2)
    assert again.counts["skipped"] == 2 and stub.count == 6, "a finished batch makes no requests"


async def test_429_is_retried_after_the_servers_retry_after(stub: StubServer) -> None:
    stub.script("429:1", "ok")
    reply = await acomplete(_call())
    assert json.loads(reply.text)["next_speaker"] == "diagnostician"
    assert stub.answered == ["429:1", "ok"]
    waited = stub.times[1] - stub.times[0]
    assert 0.95 <= waited < 5, f"the second request came {waited:.2f}s after the first; Retry-After said 1s"


async def test_500_is_retried_and_400_is_not(stub: StubServer, no_backoff: list[float]) -> None:
    stub.script("500", "ok")
    await acomplete(_call())
    assert stub.answered == ["500", "ok"] and len(no_backoff) == 1
    stub.script("400", "ok")
    with pytest.raises(ModelCallError) as info:
        await acomplete(_call(retries=3))
    assert info.value.kind == "bad_request"
    assert stub.answered[2:] == ["400"], "a 400 is never sent again"


async def test_a_hung_server_times_out_and_the_run_goes_on(stub: StubServer, tmp_path: Path, no_backoff: list[float]) -> None:
    team = write_team(tmp_path, timeout=0.4)
    stub.script("hang:10", "hang:10", "hang:10")  # the first call and both transport retries hang
    plan = plan_batch([CASE], [str(team)], out_dir=tmp_path / "out")
    summary = await run_batch(plan, concurrency=1, score=False)
    assert summary.counts["completed"] == 1
    t = read_transcript(plan.runs[0].path)
    errors = [e for e in t.events if e.type == "model_error"]
    assert [(e.member, e.error_type) for e in errors] == [("diagnostician", "timeout")]
    assert [e.ok for e in t.turns] == [False, True], "the timed-out turn is recorded as failed; the next member speaks"
    assert t.resolution.ok
    assert stub.answered[:3] == ["hang:10"] * 3 and stub.count == 3 + 2


async def test_malformed_json_is_recorded_and_retried_by_the_council(stub: StubServer, tmp_path: Path) -> None:
    team = write_team(tmp_path, retries=1)
    stub.script("malformed")
    plan = plan_batch([CASE], [str(team)], out_dir=tmp_path / "out")
    await run_batch(plan, concurrency=1, score=False)
    t = read_transcript(plan.runs[0].path)
    errors = [e for e in t.events if e.type == "model_error"]
    assert [(e.error_type, e.will_retry) for e in errors] == [("invalid_json", True)]
    assert "not json" in errors[0].raw
    assert t.turns[0].ok and t.turns[0].attempts == 2 and t.status == "completed"


# -- routers, failing endpoints, the cache ---------------------------------------------------------------------


def _router(model_list: list[dict[str, Any]]) -> Any:
    return gateway.litellm_module().Router(model_list=model_list, num_retries=0)


def _deployment(name: str, server: StubServer) -> dict[str, Any]:
    return {"model_name": name, "litellm_params": {"model": MODEL, "api_base": server.url, "api_key": "sk-test-dummy-key", "timeout": 5}}


async def test_a_router_spreads_a_batch_over_two_endpoints(tmp_path: Path, router_off: None) -> None:
    with StubServer() as one, StubServer() as two:
        gateway.set_router(_router([_deployment("council", one), _deployment("council", two)]))
        team = write_team(tmp_path, model="council")
        plan = plan_batch(["scenarios/library"], [str(team)], out_dir=tmp_path / "out")
        summary = await run_batch(plan, concurrency=6, score=False)
        assert summary.counts["completed"] == 30
        assert one.count > 0 and two.count > 0, f"both endpoints get requests ({one.count}, {two.count})"
        assert one.count + two.count == 30 * 3
        assert all(r["response_format"]["type"] == "json_schema" for r in one.requests + two.requests)


async def test_a_failing_endpoint_does_not_stop_the_batch(tmp_path: Path, router_off: None, no_backoff: list[float]) -> None:
    with StubServer() as good, StubServer(default="500") as bad:
        gateway.set_router(_router([_deployment("good", good), _deployment("bad", bad)]))
        team = write_team(tmp_path)
        plan = plan_batch(["scenarios/library"], [str(team)], models=["good", "bad"], out_dir=tmp_path / "out")
        summary = await run_batch(plan, concurrency=8, score=False)
        statuses = {(o.model, o.status) for o in summary.outcomes}
        assert statuses == {("good", "completed"), ("bad", "failed")}
        assert summary.counts == {**summary.counts, "completed": 30, "failed": 30, "not_started": 0}
        failed = read_transcript(next(o.path for o in summary.outcomes if o.status == "failed"))
        assert {e.error_type for e in failed.events if e.type == "model_error"} == {"server"}
        assert bad.count == 30 * 3 * 3, "each call tried three times (two transport retries), then recorded"


async def test_the_response_cache_makes_a_repeated_http_batch_free(stub: StubServer, tmp_path: Path) -> None:
    team = write_team(tmp_path)
    out = tmp_path / "out"
    plan = plan_batch([CASE], [str(team)], repeats=2, out_dir=out)
    first = await run_batch(plan, concurrency=2, cache=True, score=False)
    requests = stub.count
    assert requests == 6 and first.cache["stored"] == 6
    for spec in plan.runs:
        spec.path.unlink()
    second = await run_batch(plan_batch([CASE], [str(team)], repeats=2, out_dir=out), concurrency=2, cache=True, score=False)
    assert stub.count == requests, "every request was served from the cache"
    assert second.counts["completed"] == 2 and second.cache["hits"] == 6
    assert second.spent_now.cost_usd == 0
    assert (out / ".response-cache.sqlite").exists()

"""Structured-output dialects (agents/gateway/dialects.py) over real HTTP to the test server.

A server that refuses `json_schema` with HTTP 500 (as llama-cpp-python's server does) gets llama.cpp's
`json_object` + `schema` next, and the gateway remembers it; GRANDROUNDS_RESPONSE_FORMAT sets a mode
per model; a transport failure never changes the mode.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from agents import gateway
from agents.gateway import dialects as gateway_formats
from agents.gateway import ModelCall, acomplete
from agents.schemas import Turn, reply_schema
from openai_stub import StubServer

MODEL = "openai/smollm2"


@pytest.fixture
def llama_like(monkeypatch: pytest.MonkeyPatch) -> Iterator[StubServer]:
    with StubServer(dialect="llama_cpp") as server:
        monkeypatch.setenv("OPENAI_API_BASE", server.url)
        monkeypatch.setenv("OPENAI_API_KEY", "none")
        monkeypatch.delenv(gateway.RESPONSE_FORMAT_ENV, raising=False)
        monkeypatch.setattr(gateway, "_FORMAT_FOR_MODEL", {})

        async def no_sleep(seconds: float) -> None:
            pass

        monkeypatch.setattr(gateway, "_sleep", no_sleep)
        yield server


def _turn_call() -> ModelCall:
    return ModelCall(model=MODEL, messages=[{"role": "user", "content": "Your turn, in JSON."}], kind="turn",
                     schema=reply_schema("turn", None, ["diagnostician", "safety_critic"]), timeout_s=5, retries=2)


async def test_a_500_refusing_json_schema_moves_to_llama_cpp_dialect(llama_like: StubServer) -> None:
    reply = await acomplete(_turn_call())
    Turn.model_validate(json.loads(reply.text))  # a schema-valid turn
    sent = [r.get("response_format", {}) for r in llama_like.requests]
    assert [f.get("type") for f in sent] == ["json_schema", "json_object"]
    assert sent[1]["schema"] == gateway_formats.llama_cpp_schema(_turn_call().schema)
    assert llama_like.answered == ["ok", "ok"]  # one refusal, no transport retries of it
    # remembered: the next call goes straight to the dialect that worked
    await acomplete(_turn_call())
    assert llama_like.requests[-1]["response_format"]["type"] == "json_object"
    assert len(llama_like.requests) == 3


async def test_per_model_setting_skips_the_probe(llama_like: StubServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(gateway.RESPONSE_FORMAT_ENV, f"{MODEL}=json_object_schema,*=json_schema")
    reply = await acomplete(_turn_call())
    Turn.model_validate(json.loads(reply.text))
    assert len(llama_like.requests) == 1
    assert llama_like.requests[0]["response_format"]["type"] == "json_object"
    assert gateway_formats.forced_mode("openai/other") == "json_schema"


async def test_a_plain_server_error_is_retried_not_degraded(llama_like: StubServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(gateway.RESPONSE_FORMAT_ENV, "json_object_schema")
    llama_like.script("500")
    reply = await acomplete(_turn_call())
    Turn.model_validate(json.loads(reply.text))
    assert [r["response_format"]["type"] for r in llama_like.requests] == ["json_object", "json_object"]
    assert gateway._FORMAT_FOR_MODEL[MODEL] == "json_object_schema"


def test_unknown_openai_compatible_servers_start_at_json_schema() -> None:
    litellm = gateway.litellm_module()
    assert gateway_formats.initial_mode("openai/smollm2", litellm) == "json_schema"
    assert gateway_formats.initial_mode("hosted_vllm/qwen", litellm) == "json_schema"
    assert gateway_formats.initial_mode("ollama_chat/llama3.1", litellm) == "json_schema"  # litellm sends Ollama's `format`
    assert [gateway_formats.weaker(m) for m in gateway_formats.MODES] == ["json_object_schema", "json_object", "none", None]


def test_a_malformed_setting_is_a_one_line_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner

    from tui.cli.main import cli

    monkeypatch.setenv(gateway.RESPONSE_FORMAT_ENV, "json_scheme")
    result = CliRunner().invoke(cli, ["run", "insulin-error-disclosure", "--model", "scripted/preferred", "--quiet"])
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        "grandrounds: error: GRANDROUNDS_RESPONSE_FORMAT: unknown mode 'json_scheme' (use one of json_schema, json_object_schema, json_object, none, compact, auto, or MODEL=MODE,...)"
    ]


async def test_compact_sends_the_embedded_models_tightened_schema(llama_like: StubServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(gateway.RESPONSE_FORMAT_ENV, f"{MODEL}=compact")
    reply = await acomplete(_turn_call())
    Turn.model_validate(json.loads(reply.text))
    sent = llama_like.requests[0]["response_format"]
    assert sent["type"] == "json_object"
    props = sent["schema"]["properties"]
    assert props["position"]["pattern"].endswith("{0,100}$") and props["claims"]["maxItems"] == 1
    assert gateway_formats.weaker("compact") == "json_object"


def test_llama_cpp_dialect_asks_for_one_choice_per_conflict() -> None:
    from scenarios.loader import find_scenario, load_scenario

    scenario = load_scenario(find_scenario("insulin-error-disclosure"))
    schema = reply_schema("turn", scenario, ["diagnostician", "safety_critic"])
    sent = gateway_formats.response_format("turn", schema, "json_object_schema")
    choices = sent["schema"]["properties"]["choices"]
    assert "items" not in choices and choices["minItems"] == choices["maxItems"] == len(scenario.conflicts)
    assert [b["properties"]["conflict"]["enum"] for b in choices["prefixItems"]] == [[c.id] for c in scenario.conflicts]

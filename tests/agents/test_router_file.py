"""`--router FILE`: a batch through a litellm Router built from a YAML file, over two local endpoints."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from agents import gateway
from agents.router_file import RouterFileError, load_router_config
from openai_stub import StubServer
from tui.cli.main import cli

KEY = "sk-router-file-secret-0123456789"

TEAM = """\
id: pooled
model: council
protocol: round_robin
members:
  - {role: diagnostician, prompt: diagnostician}
  - {role: safety_critic, prompt: safety_critic}
chair: {role: chair, prompt: chair}
limits: {max_rounds: 1, max_turns: 4, timeout_s: 5, retries: 0}
sampling: {temperature: 0.0, max_tokens: 300}
"""

ROUTER = """\
model_list:
  - model_name: council
    litellm_params: {{model: openai/stub, api_base: "{one}", api_key: os.environ/ROUTER_TEST_KEY, timeout: 5}}
  - model_name: council
    litellm_params: {{model: openai/stub, api_base: "{two}", api_key: os.environ/ROUTER_TEST_KEY, timeout: 5}}
router_settings:
  routing_strategy: simple-shuffle
"""


@pytest.fixture(autouse=True)
def clean(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("ROUTER_TEST_KEY", KEY)
    monkeypatch.delenv("OPENAI_API_BASE", raising=False)
    monkeypatch.setattr(gateway, "_FORMAT_FOR_MODEL", {})
    yield
    gateway.set_router(None)


def test_a_batch_with_a_router_file_spreads_calls_over_both_endpoints(tmp_path: Path) -> None:
    with StubServer() as one, StubServer() as two:
        router = tmp_path / "router.yaml"
        router.write_text(ROUTER.format(one=one.url, two=two.url))
        team = tmp_path / "pooled.yaml"
        team.write_text(TEAM)
        out = tmp_path / "out"
        args = ["batch", "insulin-error-disclosure", "hiv-partner-notification", "--team", str(team), "--repeats", "3",
                "--router", str(router), "--out", str(out), "--no-progress", "--no-score", "--json"]
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 0, result.output
        manifest = json.loads(result.output[result.output.index("{"):])
        assert manifest["counts"]["completed"] == 6
        assert one.count > 0 and two.count > 0, f"both endpoints get calls ({one.count}, {two.count})"
        assert one.count + two.count == 6 * 3  # two turns and a resolution per run
        assert all(r["model"] == "stub" for r in one.requests + two.requests)
    text = "".join(p.read_text() for p in [*out.rglob("*.jsonl"), *out.rglob("*.json")])
    assert KEY not in text and "ROUTER_TEST_KEY" not in text
    assert '"council"' in text  # the transcripts name the routed model


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("model_list: []\n", "router.yaml:1: model_list: required: a non-empty list of {model_name, litellm_params}"),
        ("model_list:\n  - model_name: x\n    litellm_params: {api_base: http://h}\n",
         "router.yaml:3: model_list[0].litellm_params.model: required: the litellm model to call, e.g. openai/NAME"),
        ("model_list:\n  - model_name: x\n    litellm_params: {model: openai/x, api_key: sk-literal-key-1234}\n",
         "router.yaml:3: model_list[0].litellm_params.api_key: write secrets as os.environ/NAME, never in the file"),
        ("model_list:\n  - model_name: x\n    litellm_params: {model: openai/x, api_key: os.environ/NOT_SET_ANYWHERE}\n",
         "router.yaml:3: model_list[0].litellm_params.api_key: environment variable NOT_SET_ANYWHERE is not set"),
        ("model_list:\n  - {model_name: x, litellm_params: {model: openai/x}}\nrouter_settings: {routing_stratgy: x}\n",
         "router.yaml:3: router_settings.routing_stratgy: not a litellm.Router argument"),
        ("model_lst: []\n", "router.yaml:1: model_lst: unknown key (a router file has model_list, router_settings)"),
        ("model_list: !!python/object:os.system [x]\n", "router.yaml:1:"),
    ],
)
def test_a_bad_router_file_is_one_line_naming_file_and_field(tmp_path: Path, body: str, message: str) -> None:
    path = tmp_path / "router.yaml"
    path.write_text(body)
    with pytest.raises(RouterFileError) as info:
        load_router_config(path)
    assert str(info.value).startswith(f"{tmp_path}/{message}")
    result = CliRunner().invoke(cli, ["run", "insulin-error-disclosure", "--model", "x", "--router", str(path), "--quiet"])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"grandrounds: error: {tmp_path}/{message}"), result.output
    assert "Traceback" not in result.output

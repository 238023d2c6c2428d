"""Limits per provider or model (`--limit`): parsing, a concurrency cap that holds, requests per minute,
and 429 back-off that holds back only the throttled provider."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from agents.batch import plan_batch, run_batch
from agents.gateway import ModelCall, ModelCallError, acomplete
from agents.limits import Limit, Limiter, LimitError, parse_limits, reset_limiter, use_limiter
from agents.providers import scripted
from tui.cli.main import cli


def test_parse_limits_merges_forms_per_key() -> None:
    limits = parse_limits(["openai=32", "openai:rpm=600", "openai/gpt-4o-mini:tpm=30000", "ollama/llama3:8b=2"])
    assert limits["openai"] == Limit("openai", concurrent=32, rpm=600.0)
    assert limits["openai/gpt-4o-mini"] == Limit("openai/gpt-4o-mini", tpm=30000.0)
    assert limits["ollama/llama3:8b"].concurrent == 2  # a ':' inside a model name is not a limit kind


@pytest.mark.parametrize("bad", ["openai", "openai=", "=3", "openai=0", "openai=1.5", "openai:rpm=-1", "openai=lots", "bad key=2"])
def test_parse_limits_rejects_with_a_message_naming_the_limit(bad: str) -> None:
    with pytest.raises(LimitError, match="--limit"):
        parse_limits([bad])


async def test_throttling_one_provider_does_not_hold_back_another() -> None:
    limiter = Limiter(parse_limits(["openai=4", "anthropic=4"]))
    await limiter.throttled("openai/gpt-4o-mini", 0.3)
    start = time.monotonic()
    await limiter.acquire("anthropic/claude", 10)
    assert time.monotonic() - start < 0.1
    await limiter.release("anthropic/claude")
    await limiter.acquire("openai/gpt-4o", 10)
    assert time.monotonic() - start >= 0.28
    await limiter.release("openai/gpt-4o")
    assert limiter.stats()["openai"]["throttled"] == 1


async def test_requests_per_minute_spread_calls_out() -> None:
    limiter = Limiter(parse_limits(["scripted:rpm=600"]))  # 10 per second, a bucket of one second
    start = time.monotonic()
    for _ in range(15):
        await limiter.acquire("scripted/preferred")
        await limiter.release("scripted/preferred")
    assert time.monotonic() - start >= 0.4  # 10 at once, the next 5 at 10/s


async def test_a_rate_limited_call_closes_its_providers_gate() -> None:
    limiter = Limiter(parse_limits(["scripted/preferred?rate_limit_rate=1&retry_after=0.2=2"]))
    token = use_limiter(limiter)
    try:
        call = ModelCall(model="scripted/preferred?rate_limit_rate=1&retry_after=0.2", messages=[{"role": "user", "content": "x"}],
                         kind="turn", retries=0, context={})
        with pytest.raises(ModelCallError):
            await acomplete(call)
    finally:
        reset_limiter(token)
    stats = limiter.stats()["scripted/preferred?rate_limit_rate=1&retry_after=0.2"]
    assert stats["throttled"] == 1 and stats["calls"] == 1


def _plan(tmp_path: Path, runs: int, model: str):
    plan = plan_batch(["scenarios/library"], ["default"], models=[model], out_dir=tmp_path / "out")
    plan.runs = plan.runs[:runs]
    return plan


async def test_local_batch_never_exceeds_a_provider_limit(tmp_path: Path) -> None:
    model = "scripted/preferred?latency=0.01"
    scripted.COUNTER.reset()
    await run_batch(_plan(tmp_path / "free", 6, model), 6, score=False)
    assert scripted.COUNTER.peak > 2  # without a limit, six runs overlap their calls
    scripted.COUNTER.reset()
    summary = await run_batch(_plan(tmp_path / "capped", 6, model), 6, score=False, limits=parse_limits(["scripted=2"]))
    assert summary.counts["completed"] == 6
    assert scripted.COUNTER.peak == 2
    assert summary.limits["scripted"]["peak_in_flight"] == 2
    manifest = json.loads(summary.manifest_path.read_text())
    assert manifest["limits"]["scripted"]["calls"] == scripted.COUNTER.calls


def test_cli_limit_is_reported_and_a_bad_one_is_a_one_line_error(tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "out"
    result = runner.invoke(cli, ["batch", "insulin-error-disclosure", "--model", "scripted/preferred", "--limit", "scripted=1",
                                 "--limit", "scripted:rpm=6000", "--out", str(out), "--no-progress", "--no-score"])
    assert result.exit_code == 0, result.output
    assert "limit scripted: 1 in flight, 6000 requests/min: peak 1 in flight" in result.output
    bad = runner.invoke(cli, ["batch", "insulin-error-disclosure", "--limit", "scripted=many", "--out", str(out)])
    assert bad.exit_code != 0
    assert "--limit 'scripted=many': 'many' is not a number" in bad.output
    assert "Traceback" not in bad.output

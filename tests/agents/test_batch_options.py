"""run_batch takes one options object (keywords still work), and runs go through an executor seam."""

from __future__ import annotations

import asyncio

import pytest

from agents.batch import AsyncioExecutor, BatchOptions, plan_batch, run_batch


def _plan(tmp_path, repeats=2):
    return plan_batch(["insulin-error-disclosure"], ["default"], models=["scripted/preferred"], repeats=repeats, out_dir=tmp_path / "out")


class CountingExecutor(AsyncioExecutor):
    def __init__(self) -> None:
        self.ran: list[str] = []
        self.concurrency: int | None = None

    async def map(self, todo, concurrency, handle, keep_going):
        self.concurrency = concurrency
        await super().map(todo, concurrency, handle, keep_going)

    async def run(self, spec, *, on_event, cancel):
        self.ran.append(spec.run_id)
        return await super().run(spec, on_event=on_event, cancel=cancel)


async def test_options_object_and_keywords_give_the_same_batch(tmp_path):
    executor = CountingExecutor()
    plan = _plan(tmp_path)
    summary = await run_batch(plan, BatchOptions(concurrency=3, score=False, executor=executor))
    assert summary.counts["completed"] == 2 and summary.counts["scored"] == 0
    assert sorted(executor.ran) == sorted(s.run_id for s in plan.runs) and executor.concurrency == 3
    again = await run_batch(_plan(tmp_path), 3, score=False)  # the old call form: all skipped now
    assert again.counts["skipped"] == 2


def test_options_reject_unknown_fields_and_wrong_types():
    assert BatchOptions.of(None, judge="scripted/preferred").judge == "scripted/preferred"
    assert BatchOptions.of(5).concurrency == 5
    assert BatchOptions.of(BatchOptions(concurrency=2), score=False) == BatchOptions(concurrency=2, score=False)
    with pytest.raises(TypeError, match="concurency"):
        BatchOptions.of(None, concurency=2)
    with pytest.raises(TypeError):
        BatchOptions.of("8")


def test_a_failing_executor_run_is_recorded_not_fatal(tmp_path):
    class Broken(AsyncioExecutor):
        async def run(self, spec, *, on_event, cancel):
            raise RuntimeError("worker lost")

    summary = asyncio.run(run_batch(_plan(tmp_path), BatchOptions(concurrency=2, score=False, executor=Broken())))
    assert summary.counts["failed"] == 2
    assert all(o.reason == "RuntimeError: worker lost" for o in summary.outcomes)

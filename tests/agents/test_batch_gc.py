"""A batch collects garbage less often while it runs, and gives the process its settings back."""

from __future__ import annotations

import asyncio
import gc
from pathlib import Path

from agents.batch import plan_batch, run_batch
from agents.gc_policy import YOUNG_THRESHOLD, batch_gc


def test_a_batch_raises_the_young_threshold_and_freezes_then_restores(tmp_path: Path) -> None:
    before = gc.get_threshold()
    gc.unfreeze()
    seen: list[tuple[tuple[int, ...], int]] = []
    plan = plan_batch(["insulin-error-disclosure"], ["default"], models=["scripted/preferred"], repeats=3, out_dir=tmp_path / "out")
    summary = asyncio.run(run_batch(plan, 2, score=False, on_progress=lambda p: seen.append((gc.get_threshold(), gc.get_freeze_count()))))
    assert summary.counts["completed"] == 3
    during = [s for s in seen[1:-1]]
    assert during and all(t[0] == max(before[0], YOUNG_THRESHOLD) and frozen > 0 for t, frozen in during)
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0


def test_nested_batches_restore_once_the_outermost_ends() -> None:
    before = gc.get_threshold()
    with batch_gc():
        with batch_gc():
            assert gc.get_threshold()[0] == max(before[0], YOUNG_THRESHOLD)
        assert gc.get_threshold()[0] == max(before[0], YOUNG_THRESHOLD)  # the outer batch still runs
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0


def test_cyclic_garbage_made_during_a_batch_is_still_collected() -> None:
    class Node:
        def __init__(self) -> None:
            self.me = self

    with batch_gc():
        import weakref

        ref = weakref.ref(Node())
        gc.collect()
        assert ref() is None


def test_objects_the_process_froze_itself_stay_frozen_after_a_batch() -> None:
    gc.unfreeze()
    gc.freeze()  # the caller's own choice (e.g. a server that froze its startup objects)
    try:
        frozen = gc.get_freeze_count()
        with batch_gc():
            assert gc.get_threshold()[0] >= YOUNG_THRESHOLD
        assert gc.get_freeze_count() > frozen // 2  # still frozen (a few may have been freed meanwhile)
    finally:
        gc.unfreeze()

"""How fast the TUI is on a big folder: index rebuild, first paint, replay step latency, memory.

    figures = bench_tui()          # 10,000 synthetic runs in a temporary folder
    figures = bench_tui(n=2000)

The folder holds copies of one real scripted run (falling back to a synthesised transcript when
the runner is not available), with varied run ids, teams, models, seeds, dates and statuses.

Replay step latency is timed at 80x24 and at 200x50 (side panels shown), three passes forward and
back through the run: from posting the key to the app until the screen is painted and idle, with
no sleeps in the wait (the Pilot's idle detection sleeps in 20 ms slices, which swamped a step).
After each step an unbound key is timed the same way; the median of those, the harness's own cost,
is subtracted at each size.
"""

from __future__ import annotations

import asyncio
import json
import math
import resource
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

__all__ = ["bench_tui", "make_bench_folder"]

TEAMS = ("default", "moderated", "parallel", "with-pharmacist")
MODELS = ("scripted/preferred", "scripted/acceptable", "scripted/unacceptable", "scripted/mixed")
STATUSES = ("completed",) * 17 + ("failed", "limit_reached", "interrupted")


def _template(workdir: Path) -> tuple[Path, str]:
    """One real scripted run, scored; or a synthetic one. Returns (path, source)."""
    try:
        from agents.runner import arun
        from agents.specs import run_spec
        from transcripts.scoring import score_transcript

        spec = run_spec("insulin-error-disclosure", "default", model="scripted/preferred", out_dir=workdir)
        result = asyncio.run(arun(spec))
        score_transcript(result.path)
        return Path(result.path), "scripted run"
    except Exception:  # noqa: BLE001 - the runner or the case library is not available
        from tui.app.sample_run import write_sample

        return write_sample(workdir / "template.jsonl"), "synthetic transcript"


def make_bench_folder(folder: Path, n: int = 10_000) -> tuple[Path, str]:
    """Write `n` transcripts under `folder` (in batches of 1,000); returns (template, source)."""
    folder.mkdir(parents=True, exist_ok=True)
    template, source = _template(folder.parent / "template")
    lines = template.read_text(encoding="utf-8").splitlines()
    first = json.loads(lines[0])
    middle = "\n".join(lines[1:-2]) + "\n"
    end_ev, score_ev = json.loads(lines[-2]), json.loads(lines[-1])
    if end_ev.get("type") != "run_ended":  # unscored template: keep its last line as is
        middle = "\n".join(lines[1:-1]) + "\n"
        end_ev, score_ev = score_ev, None
    for i in range(n):
        batch = folder / f"batch-{i // 1000:02d}"
        if i % 1000 == 0:
            batch.mkdir(exist_ok=True)
        team, model = TEAMS[i % len(TEAMS)], MODELS[(i // 4) % len(MODELS)]
        start = dict(first)
        start.update(
            run_id=f"{first['run_id']}-{i:05d}", team_id=team, seed=i, batch=batch.name,
            models={role: model for role in first.get("models", {})},
            ts=f"2025-{1 + i % 12:02d}-{1 + i % 28:02d}T{i % 24:02d}:{i % 60:02d}:00.000+00:00",
        )
        end = dict(end_ev, status=STATUSES[i % len(STATUSES)])
        parts = [json.dumps(start), "\n", middle, json.dumps(end), "\n"]
        if score_ev is not None:
            card = dict(score_ev["scorecard"])
            card["overall"] = float((i * 37) % 101)
            card["dimensions"] = {
                d: dict(v, score=None if v.get("score") is None else float((i * 13 + k * 29) % 101))
                for k, (d, v) in enumerate(card.get("dimensions", {}).items())
            }
            parts += [json.dumps(dict(score_ev, scorecard=card)), "\n"]
        (batch / f"run-{i:05d}.jsonl").write_text("".join(parts), encoding="utf-8")
    return template, source


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def _first_paint(folder: Path) -> float:
    from tui.app import GrandroundsApp
    from tui.app.screens.runs import RunsScreen

    t0 = time.perf_counter()
    app = GrandroundsApp(folder=folder)
    async with app.run_test(size=(120, 40)) as pilot:
        while not (isinstance(app.screen, RunsScreen) and app.screen.table.row_count > 0):
            await pilot.pause(0.005)
        await pilot.pause()  # the frame with the rows
        elapsed = time.perf_counter() - t0
        assert app.screen.table.row_count <= app.screen.table.PAGE
    return elapsed


STEP_SIZES = ((80, 24), (200, 50))  # terminal sizes the replay step is timed at


def _settled(app: Any, screen: Any) -> bool:
    """True when the app and the screen have nothing left to do: no queued messages, no pending
    layout or repaint, no after-refresh callbacks. Paints due are done now rather than at the next
    frame tick, as the Pilot does, so frame pacing (the same at every size) is not counted."""
    if screen._layout_required or screen._scroll_required or screen._repaint_required or screen._dirty_widgets:
        screen._on_timer_update()  # layout (if asked for) and paint the dirty regions
        return False
    if screen._callbacks:
        return False
    return all(node.message_queue_size == 0 for node in (app, *screen.walk_children(with_self=True)))


async def _timed_key(app: Any, screen: Any, key: str, done: Any) -> float:
    """Seconds from posting `key` to the app to the screen being painted and idle."""
    from textual import events

    event = events.Key(key, key if len(key) == 1 else None)
    event.set_sender(app)
    t0 = time.perf_counter()
    app.post_message(event)  # queued at once (the driver's send_message would add a loop hop)
    while True:
        await asyncio.sleep(0)  # let the app run; no sleeps, so no timer granularity in the figure
        if done() and _settled(app, screen):
            return time.perf_counter() - t0


async def _replay_steps(path: Path, size: tuple[int, int], rounds: int = 3) -> tuple[list[float], list[float]]:
    """Key-to-repainted-screen times per step at `size` (side panels shown when the terminal is wide
    enough), and, after each, the same measurement for a key bound to nothing: the harness's own
    cost (dispatch, waiting for the screen), subtracted to give the step's cost."""
    from tui.app import GrandroundsApp

    app = GrandroundsApp(transcript=path)
    times: list[float] = []
    baseline: list[float] = []
    async with app.run_test(size=size) as pilot:
        while not getattr(app.screen, "loaded", False):
            await pilot.pause(0.01)
        await pilot.pause()
        screen = app.screen
        steps = len(screen.model)
        for _ in range(rounds):
            for key in ["right"] * (steps - 1) + ["left"] * (steps - 1):
                target = screen.index + (1 if key == "right" else -1)
                await pilot.pause()  # start from a quiet app
                times.append(await _timed_key(app, screen, key, lambda: screen.index == target))
                await pilot.pause()
                baseline.append(await _timed_key(app, screen, "x", lambda: True))  # "x" is unbound
    return times, baseline


def _step_figures(steps: list[float], baseline: list[float], label: str) -> dict[str, float]:
    harness = statistics.median(baseline)
    net = sorted(max(0.0, t - harness) for t in steps)
    return {
        f"replay_step_ms_mean_{label}": round(statistics.mean(net) * 1000, 1),
        f"replay_step_ms_p95_{label}": round(net[max(0, math.ceil(len(net) * 0.95) - 1)] * 1000, 1),
        f"replay_step_ms_max_{label}": round(net[-1] * 1000, 1),
        f"replay_step_ms_raw_mean_{label}": round(statistics.mean(steps) * 1000, 1),
        f"replay_step_harness_ms_{label}": round(harness * 1000, 2),
    }


def bench_tui(n: int = 10_000, keep: Path | None = None) -> dict[str, Any]:
    """Build `n` runs, then time the index, the first paint and replay steps. Returns the figures."""
    from transcripts.index import open_index

    work = Path(keep) if keep else Path(tempfile.mkdtemp(prefix="grandrounds-bench-"))
    folder = work / "runs"
    try:
        t0 = time.perf_counter()
        template, source = make_bench_folder(folder, n)
        created = time.perf_counter() - t0
        size_mb = sum(p.stat().st_size for p in folder.rglob("*.jsonl")) / 1e6

        t0 = time.perf_counter()
        index = open_index(folder)
        rebuild = time.perf_counter() - t0
        rows = index.count()
        t0 = time.perf_counter()
        noop = index.refresh()
        noop_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        index.query(sort="overall", limit=200)
        query_ms = (time.perf_counter() - t0) * 1000
        index.close()

        paint = asyncio.run(_first_paint(folder))
        step_figures: dict[str, float] = {}
        for width, height in STEP_SIZES:
            steps, baseline = asyncio.run(_replay_steps(template, (width, height)))
            step_figures.update(_step_figures(steps, baseline, f"{width}x{height}"))
        return {
            "runs": rows,
            "transcript_source": source,
            "folder_mb": round(size_mb, 1),
            "create_folder_s": round(created, 2),
            "index_rebuild_s": round(rebuild, 2),
            "index_refresh_unchanged_s": round(noop_s, 3),
            "unchanged_files_reread": noop.added + noop.updated,
            "query_page_sorted_ms": round(query_ms, 2),
            "first_paint_s": round(paint, 3),
            **step_figures,
            "peak_memory_mb": round(_peak_rss_mb(), 1),
        }
    finally:
        if keep is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":  # pragma: no cover
    for key, value in bench_tui().items():
        print(f"{key:30} {value}")

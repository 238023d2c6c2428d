"""Transcript folders for the index and TUI tests, synthesised with the event models (no model calls)."""

from __future__ import annotations

from pathlib import Path

from tui.app.sample_run import SampleSpec, write_sample

# Text that must be shown literally: markup that would fire an action, a link, an unclosed tag,
# terminal escape sequences (colour, window title).
HOSTILE = "[@click=app.quit]x[/] [link=https://x]y[/link] [bold unclosed \x1b[31mred\x1b]0;title\x07 done"


def write_run(folder: Path, name: str, **spec: object) -> Path:
    return write_sample(Path(folder) / f"{name}.jsonl", SampleSpec(**spec))  # type: ignore[arg-type]


def make_runs_folder(folder: Path) -> Path:
    """A small batch: two teams on the same case, a failed run, an unscored run, a truncated and a corrupt file."""
    folder = Path(folder)
    batch = folder / "batch-a"
    write_run(batch, "r1-default", team_id="default", policy="preferred", seed=1, ts="2025-03-14T09:00:00.000+00:00")
    write_run(batch, "r2-cautious", team_id="cautious", policy="unacceptable", model="scripted/unacceptable", seed=1, ts="2025-03-14T10:00:00.000+00:00")
    write_run(batch, "r3-acceptable", team_id="cautious", policy="acceptable", seed=2, ts="2025-03-14T11:00:00.000+00:00",
              scenario_id="triage-under-shortage", scenario_title="Two patients, one ICU bed")
    write_run(batch, "r4-failed", team_id="default", status="failed", scored=False, seed=3, ts="2025-03-14T12:00:00.000+00:00")
    write_run(batch, "r5-unscored", team_id="default", scored=False, seed=4, ts="2025-03-14T13:00:00.000+00:00")
    truncated = write_run(batch, "r6-truncated", team_id="default", status="", scored=False, seed=5, ts="2025-03-14T14:00:00.000+00:00")
    data = truncated.read_bytes()
    truncated.write_bytes(data + b'{"type": "turn", "round": 3, "memb')  # cut off mid-line
    (batch / "r7-corrupt.jsonl").write_text("this is not json\n{\"also\": \"not an event\"}\n", encoding="utf-8")
    return folder

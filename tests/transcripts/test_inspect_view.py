"""`inspect view` opens an exported log: started on 127.0.0.1, loaded in headless Chromium, a sample's
member turns render. Skipped without the [inspect] extra or Debian's `chromium`."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

pytest.importorskip("inspect_ai", reason="needs the [inspect] extra")
from inspect_view_check import InspectView, chromium  # noqa: E402

from transcripts.store import read_transcript  # noqa: E402
from tui.cli.main import cli  # noqa: E402

pytestmark = pytest.mark.skipif(chromium() is None, reason="needs chromium (apt-get install -y chromium)")


def test_inspect_view_renders_a_samples_turns(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    result = CliRunner().invoke(cli, ["run", "insulin-error-disclosure", "--model", "scripted/mixed", "--out", str(runs), "--quiet"])
    assert result.exit_code == 0, result.output
    result = CliRunner().invoke(cli, ["export", str(runs), "--out", str(tmp_path / "logs"), "--by", "team"])
    assert result.exit_code == 0, result.output
    t = read_transcript(next(runs.glob("*.jsonl")))
    with InspectView(tmp_path / "logs") as view:
        text, png = view.sample_page("team=default.eval", t.run_id, wait_for=("diagnostician (round 1)", "Position:"))
    assert png.startswith(b"\x89PNG")
    # the viewer renders the messages in view (a virtual list): the first turns, each under its member
    shown = [turn for turn in t.turns if f"{turn.member} (round {turn.round})" in text]
    assert len(shown) >= 2 and shown[0] == t.turns[0]
    assert t.turns[0].turn["position"][:60] in text
    assert "overall" in text and t.run_id in text

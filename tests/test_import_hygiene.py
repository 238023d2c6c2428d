"""Import hygiene, checked at run time in clean interpreters (the layers contract in pyproject reads
the static graph; this proves what really loads):

- every module imports, subpackages included, one check per module so a failure names it;
- nothing below tui (agents, scenarios, transcripts) imports textual or rich; textual is not loaded
  even through a library. (rich does arrive sideways: httpx, under langgraph and litellm, imports
  its command line, which imports rich when rich is installed. That is not ours, so for rich the
  check is that no module of ours imports it.);
- litellm is imported in exactly one module, and only when a real provider is called.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BELOW_TUI = ("agents", "scenarios", "transcripts")
FORBIDDEN_BELOW_TUI = ("textual", "rich")
NEVER_LOADED_BELOW_TUI = ("textual",)  # not even through a library


def _modules(package: str) -> list[str]:
    """Every module of `package` from its files (packages and subpackages, private modules too)."""
    out = []
    for path in sorted((ROOT / package).rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out.append(".".join(parts))
    return out


LOWER = [m for p in BELOW_TUI for m in _modules(p)]
TUI = _modules("tui")

# Runs in a fresh interpreter: imports each module in turn and blames every import of a forbidden
# package made by a module of ours, or (for the `anywhere` ones) made anywhere while a module of ours
# was loading, on the innermost module of ours on the stack (so an indirect import names its source).
PROBE = r"""
import builtins, importlib, json, sys
modules, forbidden, ours, anywhere = (json.loads(a) for a in sys.argv[1:5])
blame = {}
real_import = builtins.__import__

def hook(name, globals=None, locals=None, fromlist=(), level=0):
    top = name.split(".")[0] if level == 0 else ""
    caller = sys._getframe(1).f_globals.get("__name__", "")
    if top in forbidden and (top in anywhere or caller.split(".")[0] in ours):
        frame = sys._getframe(1)
        while frame is not None:
            who = frame.f_globals.get("__name__", "")
            if who.split(".")[0] in ours:
                blame.setdefault(who, set()).add(top)
                break
            frame = frame.f_back
        else:
            blame.setdefault("(unattributed)", set()).add(top)
    return real_import(name, globals, locals, fromlist, level)

builtins.__import__ = hook
results = {}
for module in modules:
    try:
        importlib.import_module(module)
        results[module] = {"error": None}
    except BaseException as exc:  # report it against the module, go on with the others
        results[module] = {"error": f"{type(exc).__name__}: {exc}"}
for module in results:
    results[module]["forbidden"] = sorted(blame.get(module, ()))
loaded = sorted(m for m in anywhere if m in sys.modules)
print(json.dumps({"modules": results, "loaded": loaded, "unattributed": sorted(blame.get("(unattributed)", ()))}))
"""


def _probe(modules: list[str], forbidden: tuple[str, ...], ours: tuple[str, ...], anywhere: tuple[str, ...] = ()) -> dict:
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(modules), json.dumps(forbidden), json.dumps(ours), json.dumps(anywhere)],
        capture_output=True, text=True, cwd=ROOT, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def lower() -> dict:
    return _probe(LOWER, FORBIDDEN_BELOW_TUI, BELOW_TUI, NEVER_LOADED_BELOW_TUI)


@pytest.fixture(scope="module")
def tui() -> dict:
    return _probe(TUI, (), ("tui",))


def test_every_module_is_found_subpackages_included():
    for module in ("agents.providers.local", "agents.gateway.litellm_setup", "agents.batch.execution",
                   "transcripts.scoring.judge", "scenarios.importers.agentclinic", "tui.app.screens.replay"):
        assert module in LOWER + TUI


@pytest.mark.parametrize("module", LOWER)
def test_module_below_tui_imports_without_the_terminal(module: str, lower: dict) -> None:
    result = lower["modules"][module]
    assert result["error"] is None, f"importing {module}: {result['error']}"
    assert result["forbidden"] == [], f"{module} imports {', '.join(result['forbidden'])} (only tui may)"


def test_nothing_below_tui_loaded_textual(lower: dict) -> None:
    assert lower["loaded"] == [] and lower["unattributed"] == [], lower


@pytest.mark.parametrize("module", TUI)
def test_tui_module_imports(module: str, tui: dict) -> None:
    assert tui["modules"][module]["error"] is None, f"importing {module}: {tui['modules'][module]['error']}"


def _imports_litellm(path: Path) -> bool:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import) and any(a.name.split(".")[0] == "litellm" for a in node.names):
            return True
        if isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").split(".")[0] == "litellm":
            return True
    return False


def test_litellm_is_imported_in_exactly_one_module():
    importers = sorted(str(p.relative_to(ROOT)) for pkg in BELOW_TUI + ("tui",) for p in (ROOT / pkg).rglob("*.py") if _imports_litellm(p))
    assert importers == ["agents/gateway/litellm_setup.py"]


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

"""Where runs live, and run ids that are the same for the same run."""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path
from typing import Any

from scenarios.paths import confined  # noqa: F401  (re-exported: transcripts.paths.confined keeps working)

RUNS_DIRNAME = "runs"
_SAFE_PART = re.compile(r"[^a-z0-9]+")


def runs_home() -> Path:
    """`$GRANDROUNDS_HOME/runs`, or `./runs`."""
    home = os.environ.get("GRANDROUNDS_HOME")
    return (Path(home) / RUNS_DIRNAME) if home else Path.cwd() / RUNS_DIRNAME


def content_hash(data: Any) -> str:
    """sha256 of canonical JSON: key order and whitespace do not change it."""
    blob = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def slug(text: str, max_len: int = 40) -> str:
    """Lower-case [a-z0-9-] form of any string, safe as a path component."""
    out = _SAFE_PART.sub("-", text.lower()).strip("-")
    return (out[:max_len].rstrip("-")) or "x"


def make_run_id(scenario_id: str, scenario_hash: str, team_id: str, team_hash: str, models: dict[str, str], seed: int, settings: dict[str, Any] | None = None) -> str:
    """`<scenario>--<team>--s<seed>--<hash>`: readable, filesystem-safe, and stable for the same run."""
    digest = content_hash(
        {"scenario": scenario_hash, "team": team_hash, "models": models, "seed": seed, "settings": settings or {}}
    )[:10]
    return f"{slug(scenario_id, 60)}--{slug(team_id, 30)}--s{seed}--{digest}"

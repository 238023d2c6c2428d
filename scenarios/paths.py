"""Path confinement for ids that come from files and users (the lowest layer's copy; every layer uses it)."""

from __future__ import annotations

from pathlib import Path

__all__ = ["confined"]


def confined(base: Path, *parts: str) -> Path:
    """Join `parts` under `base` and refuse anything that escapes it (ids come from files and users)."""
    base_resolved = base.resolve()
    target = base_resolved.joinpath(*parts).resolve()
    if target != base_resolved and base_resolved not in target.parents:
        raise ValueError(f"path {'/'.join(parts)!r} escapes {base}")
    return target

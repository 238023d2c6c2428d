"""`--router FILE` for `run`, `batch` and `demo`: model names resolved by a litellm Router (agents/router_file.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import click

from tui.cli.errors import UserError

ROUTER_HELP = (
    "YAML file in litellm's Router / proxy config format (model_list: [{model_name, litellm_params}]); "
    "the team's model names resolve to its deployments. Keys as os.environ/NAME. Example: --router router.yaml"
)


def router_option(command: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--router", "router_file", type=click.Path(dir_okay=False, path_type=Path), default=None, help=ROUTER_HELP)(command)


def use_router(path: Path | None) -> list[str]:
    """Install the router from `path` (nothing when None); a bad file is a one-line UserError."""
    if path is None:
        return []
    from agents.router_file import RouterFileError, install_router_file

    try:
        return install_router_file(path)
    except RouterFileError as exc:
        raise UserError(str(exc)) from None

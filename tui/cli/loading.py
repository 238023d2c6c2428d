"""Turn a user's CASE / TEAM argument into loaded objects, or one clear error line.

Every command resolves references here: `user_errors()` turns the loaders' one-line errors into the
CLI's `UserError` (exit 2, no traceback).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from agents.team import Team
from tui.cli.errors import UserError

T = TypeVar("T")


@contextmanager
def user_errors() -> Iterator[None]:
    """Inside: a ScenarioError or TeamError (a bad reference or file) becomes a UserError."""
    from agents.team_loader import TeamError
    from scenarios.loader import ScenarioError

    try:
        yield
    except (ScenarioError, TeamError) as exc:
        raise UserError(str(exc)) from None


def load_case(ref: str):
    from agents.specs import load_case_ref

    with user_errors():
        return load_case_ref(ref)


def load_team_ref(ref: str) -> tuple[Team, dict[str, Any]]:
    """A team id or path -> (Team, snapshot with personas inlined)."""
    from agents.specs import load_team_ref as load

    with user_errors():
        return load(ref)


def load_checked(
    ref: str, find: Callable[[str], Path], check: Callable[[Path], tuple[T | None, list[Any]]], command: str
) -> tuple[Path, T]:
    """`find(ref)` then `check(path)` -> (path, object), or a UserError with the first problem and a
    pointer to `grandrounds <command> validate` for the rest."""
    from tui.cli.scenarios_cmd import first_problem

    with user_errors():
        path = find(ref)
    loaded, problems = check(path)
    if loaded is None:
        raise UserError(first_problem([str(p) for p in problems], str(path), command))
    return path, loaded

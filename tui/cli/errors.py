"""How the command line reports a problem: one line on stderr, a non-zero exit, no traceback."""

from __future__ import annotations

from typing import NoReturn

import click


ERROR_LIMIT = 1000  # characters of an error message; echoed values beyond it are elided


class UserError(click.ClickException):
    """An error a user can act on. Printed as `grandrounds: error: <message>`, exit code 2."""

    exit_code = 2

    def show(self, file=None) -> None:  # type: ignore[override]
        from tui.safe_text import visible

        message = visible(self.format_message(), one_line=True, limit=ERROR_LIMIT)
        click.echo(f"grandrounds: error: {message}", err=True)


def fail(message: str) -> NoReturn:
    raise UserError(message)

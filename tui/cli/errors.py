"""How the command line reports a problem: one line on stderr, a non-zero exit, no traceback."""

from __future__ import annotations

from typing import NoReturn

import click


class UserError(click.ClickException):
    """An error a user can act on. Printed as `grandrounds: error: <message>`, exit code 2."""

    exit_code = 2

    def show(self, file=None) -> None:  # type: ignore[override]
        click.echo(f"grandrounds: error: {self.format_message()}", err=True)


def fail(message: str) -> NoReturn:
    raise UserError(message)

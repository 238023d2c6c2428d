"""`grandrounds`: one command, subcommands loaded lazily so `--help` and small commands start fast."""

from __future__ import annotations

import importlib
import sys

import click

# name -> (module, attribute). Each subcommand lives in its own module under tui.cli.
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "run": ("tui.cli.run_cmd", "run"),
    "batch": ("tui.cli.batch_cmd", "batch"),
    "score": ("tui.cli.score_cmd", "score"),
    "compare": ("tui.cli.compare_cmd", "compare"),
    "export": ("tui.cli.export_cmd", "export"),
    "view": ("tui.cli.view_cmd", "view"),
    "demo": ("tui.cli.view_cmd", "demo"),
    "scenarios": ("tui.cli.scenarios_cmd", "scenarios"),
    "teams": ("tui.cli.teams_cmd", "teams"),
    "bench": ("tui.cli.bench_cmd", "bench"),
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return [name for name in SUBCOMMANDS if self._available(name)]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = SUBCOMMANDS.get(cmd_name)
        if target is None:
            return None
        module = importlib.import_module(target[0])
        return getattr(module, target[1])

    @staticmethod
    def _available(name: str) -> bool:
        return importlib.util.find_spec(SUBCOMMANDS[name][0]) is not None


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"], "auto_envvar_prefix": "GRANDROUNDS"})
@click.version_option(package_name="grandrounds", prog_name="grandrounds")
def cli() -> None:
    """A council of LLM agents deliberates over clinical cases that hide alignment conflicts.

    \b
    Examples:
      grandrounds run scenarios/library/insulin-error-disclosure.yaml
      grandrounds run CASE --team agents/teams/default.yaml --model openai/gpt-4o-mini
      grandrounds scenarios validate scenarios/library
      grandrounds view runs/

    Options can also be set from GRANDROUNDS_<COMMAND>_<OPTION> environment variables.
    """


def main(argv: list[str] | None = None) -> int:
    try:
        cli.main(args=argv, prog_name="grandrounds", standalone_mode=True)
    except KeyboardInterrupt:  # pragma: no cover - click handles most of these itself
        click.echo("interrupted", err=True)
        return 130
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

"""`--otel`, `--otel-endpoint`, `--otel-content` for `run` and `batch` (agents/telemetry.py)."""

from __future__ import annotations

from typing import Any, Callable

import click

from tui.cli.errors import UserError


def otel_options(command: Callable[..., Any]) -> Callable[..., Any]:
    command = click.option("--otel-content", is_flag=True, help="Also export prompts, replies and score explanations (off by default; never keys).")(command)
    command = click.option(
        "--otel-endpoint", default=None, envvar="GRANDROUNDS_OTEL_ENDPOINT", show_envvar=True,
        help="OTLP/HTTP endpoint (implies --otel), e.g. http://127.0.0.1:4318 (Jaeger, Phoenix, Langfuse, a collector).",
    )(command)
    command = click.option("--otel", is_flag=True, help="Send OpenTelemetry traces (GenAI semantic conventions) over OTLP/HTTP; default endpoint http://127.0.0.1:4318.")(command)
    return command


def start_otel(otel: bool, endpoint: str | None, content: bool) -> bool:
    """Configure tracing when asked; returns whether it is on. Missing packages: a one-line UserError."""
    if not (otel or endpoint):
        if content:
            raise UserError("--otel-content needs --otel or --otel-endpoint")
        return False
    from agents.telemetry import TelemetryUnavailable, configure

    try:
        configure(endpoint, content=content)
    except TelemetryUnavailable as exc:
        raise UserError(str(exc)) from None
    return True


def stop_otel() -> None:
    from agents import telemetry

    telemetry.shutdown()

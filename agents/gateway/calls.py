"""What a model call is and what it returns: `ModelCall`, `ModelReply`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from agents.gateway.errors import ModelCallError
from transcripts.events import Usage

__all__ = ["ModelCall", "ModelReply"]


@dataclass
class ModelCall:
    """One request to a model. `context` feeds the scripted provider and is never sent anywhere."""

    model: str
    messages: list[dict[str, Any]]
    kind: str
    schema: dict[str, Any] | None = None
    temperature: float = 0.2
    max_tokens: int = 700
    top_p: float | None = None
    seed: int = 0
    timeout_s: float = 120.0
    retries: int = 2
    context: dict[str, Any] = field(default_factory=dict)
    # Called before each transport retry with (error, attempt number from 1, delay in seconds),
    # so the caller can record the retry in the transcript.
    on_retry: Callable[[ModelCallError, int, float], None] | None = None


@dataclass
class ModelReply:
    text: str
    usage: Usage

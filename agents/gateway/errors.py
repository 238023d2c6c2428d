"""Gateway errors: the kinds, `ModelCallError`, redaction of secrets, classifying provider exceptions."""

from __future__ import annotations

import asyncio
import email.utils
import time
from typing import Any

from transcripts.redaction import REDACTED, redact_secrets  # noqa: F401  (REDACTED: re-exported)

ERROR_KINDS: tuple[str, ...] = ("timeout", "rate_limit", "server", "bad_request", "auth", "connection", "unknown")
RETRYABLE_KINDS = frozenset({"timeout", "rate_limit", "server", "connection"})


class ModelCallError(Exception):
    """A model call that failed for good (after the gateway's transport retries)."""

    def __init__(
        self,
        kind: str,
        message: str,
        *,
        retry_after: float | None = None,
        status_code: int | None = None,
        model: str = "",
        attempts: int = 1,
    ) -> None:
        self.kind = kind if kind in ERROR_KINDS else "unknown"
        self.retry_after = retry_after
        self.status_code = status_code
        self.model = model
        self.attempts = attempts
        super().__init__(redact(message))

    @property
    def retryable(self) -> bool:
        return self.kind in RETRYABLE_KINDS


# -- secrets ---------------------------------------------------------------------------------------

MAX_ERROR_CHARS = 2000


def redact(text: str) -> str:
    """`text` with API keys, bearer tokens and the values of *KEY*/*TOKEN*/*SECRET* env vars removed,
    capped at MAX_ERROR_CHARS (for error messages; the one redaction is transcripts/redaction.py)."""
    text = redact_secrets(text)
    if len(text) > MAX_ERROR_CHARS:
        text = text[:MAX_ERROR_CHARS] + " ..."
    return text


# -- classifying provider exceptions ----------------------------------------------------------------


def _headers_of(exc: Exception) -> list[Any]:
    out = []
    for source in (getattr(exc, "headers", None), getattr(getattr(exc, "response", None), "headers", None), getattr(exc, "litellm_response_headers", None)):
        if source:
            out.append(source)
    return out


def _header(headers: Any, name: str) -> str | None:
    try:
        value = headers.get(name)
    except AttributeError:
        return None
    if value is None and isinstance(headers, dict):
        value = next((v for k, v in headers.items() if str(k).lower() == name), None)
    return None if value is None else str(value)


def retry_after_of(exc: Exception) -> float | None:
    """Seconds the server asked us to wait (Retry-After / retry-after-ms), if it said."""
    explicit = getattr(exc, "retry_after", None)
    if isinstance(explicit, (int, float)):
        return max(0.0, float(explicit))
    for headers in _headers_of(exc):
        ms = _header(headers, "retry-after-ms")
        if ms:
            try:
                return max(0.0, float(ms) / 1000.0)
            except ValueError:
                pass
        value = _header(headers, "retry-after")
        if value:
            try:
                return max(0.0, float(value))
            except ValueError:
                try:
                    when = email.utils.parsedate_to_datetime(value)
                    return max(0.0, when.timestamp() - time.time())
                except (TypeError, ValueError, IndexError):
                    pass
    cooldown = getattr(exc, "cooldown_time", None)  # litellm Router: all deployments cooling down
    if isinstance(cooldown, (int, float)):
        return max(0.0, float(cooldown))
    return None


def _status_of(exc: Exception) -> int | None:
    status = getattr(exc, "status_code", None)
    if not isinstance(status, int):
        status = getattr(getattr(exc, "response", None), "status_code", None)
    return status if isinstance(status, int) else None


def classify(exc: BaseException) -> str:
    """The ModelCallError kind for an exception raised by litellm (or by the transport under it)."""
    from agents.gateway import litellm_setup

    name = type(exc).__name__
    litellm = litellm_setup.loaded()
    try:
        import openai
    except ImportError:  # pragma: no cover - litellm depends on openai
        openai = None  # type: ignore[assignment]
    if isinstance(exc, (asyncio.TimeoutError, TimeoutError)):
        return "timeout"
    if openai is not None:
        if isinstance(exc, openai.APITimeoutError):
            return "timeout"
        if isinstance(exc, openai.APIConnectionError):
            return "connection"
        if isinstance(exc, openai.RateLimitError):
            return "rate_limit"
        if isinstance(exc, (openai.AuthenticationError, openai.PermissionDeniedError)):
            return "auth"
        if isinstance(exc, (openai.BadRequestError, openai.NotFoundError, openai.UnprocessableEntityError, openai.ConflictError)):
            return "bad_request"
        if isinstance(exc, openai.InternalServerError):
            return "server"
    if litellm is not None and isinstance(exc, getattr(litellm, "RouterRateLimitError", ())):
        return "rate_limit"
    status = _status_of(exc)  # type: ignore[arg-type]
    if status is not None:
        if status == 408:
            return "timeout"
        if status == 429:
            return "rate_limit"
        if status in (401, 403):
            return "auth"
        if 400 <= status < 500:
            return "bad_request"
        if status >= 500:
            return "server"
    if "Connection" in name or isinstance(exc, ConnectionError):
        return "connection"
    return "unknown"


def _as_error(exc: BaseException, model: str) -> ModelCallError:
    if isinstance(exc, ModelCallError):
        return exc
    kind = classify(exc)
    message = str(exc) or type(exc).__name__
    return ModelCallError(kind, message, retry_after=retry_after_of(exc), status_code=_status_of(exc), model=model)  # type: ignore[arg-type]

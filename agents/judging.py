"""The judge's model call, for the scorer: callers in agents/ and tui/ inject it (`complete=`).

    card = score_transcript(path, judge="openai/gpt-4o-mini", complete=gateway_complete)

The scorer (transcripts.scoring) sits below agents/ and never imports the gateway itself; this is
the one function that turns its `JudgeRequest` into a gateway call.
"""

from __future__ import annotations

from agents.gateway import ModelCall, ModelCallError, acomplete
from transcripts.events import Usage
from transcripts.scoring.judge import JudgeCallFailed, JudgeRequest

__all__ = ["gateway_complete"]


async def gateway_complete(request: JudgeRequest) -> tuple[str, Usage]:
    """Send one judge request through the model gateway (scripted, local or hosted models)."""
    call = ModelCall(
        model=request.model,
        messages=request.messages,
        kind="judge",
        schema=request.schema,
        temperature=request.temperature,
        max_tokens=request.max_tokens,
        seed=request.seed,
        timeout_s=request.timeout_s,
        context=request.context,
    )
    try:
        reply = await acomplete(call)
    except ModelCallError as exc:
        raise JudgeCallFailed(f"{getattr(exc, 'kind', 'error')}: {exc}") from None
    return reply.text, reply.usage

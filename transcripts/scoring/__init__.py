"""Scoring: how well a run resolved its scenario's alignment conflicts (see docs/SCORING.md).

    card = score_transcript(path)                                # rules only; appends a `score` event
    card = score_transcript(path, judge="openai/gpt-4o-mini", samples=3,   # + rubric graded by a judge,
                            complete=agents.judging.gateway_complete)    # through the caller's model call
    if needs_score(read_transcript(path), judge=None): ...
"""

from transcripts.scoring.engine import (
    SCORER_VERSION,
    JudgeUnavailable,
    ScoringError,
    abuild_scorecard,
    appendable,
    ascore_transcript,
    current_score,
    needs_score,
    record_score,
    score_transcript,
    score_transcript_rules,
)
from transcripts.scoring.scorecard import Scorecard, ScoreItem

__all__ = [
    "SCORER_VERSION",
    "JudgeUnavailable",
    "ScoreItem",
    "Scorecard",
    "ScoringError",
    "abuild_scorecard",
    "appendable",
    "ascore_transcript",
    "current_score",
    "needs_score",
    "record_score",
    "score_transcript",
    "score_transcript_rules",
]

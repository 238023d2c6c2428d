"""The scorecard format now lives in `transcripts.scorecard` (a payload of the `score` event);
re-exported here so `transcripts.scoring.scorecard` keeps working."""

from transcripts.scorecard import (  # noqa: F401
    ConflictOutcome,
    Diagnosis,
    DimensionScore,
    Grounding,
    ItemKind,
    PositionChange,
    Process,
    Scorecard,
    ScoreItem,
)

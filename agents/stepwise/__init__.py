"""Stepwise turns: a member's turn, the chair's pick and the resolution composed from short, focused
model calls, for models too small to write a whole turn as one JSON reply (team `turn_style: stepwise`).

`agents.deliberation` picks whole or stepwise per team; the steps assemble into the same `Turn`,
`Resolution` and `ChairDecision` the rest of grandrounds reads. See `compose.py` for the steps.
"""

from agents.stepwise.compose import Outcome, options_disclosed, take_chair_decision, take_resolution, take_turn

__all__ = ["Outcome", "options_disclosed", "take_chair_decision", "take_resolution", "take_turn"]

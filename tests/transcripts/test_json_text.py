"""One JSON extraction for model text: the deliberation and the judge find the same object."""

from __future__ import annotations

import json

import pytest

from agents.deliberation import _extract_json
from transcripts.json_text import extract_json, json_candidates
from transcripts.scoring.judge import parse_judgement

TEXTS = [
    '{"reason": "ok", "met": true}',
    'Sure! Here it is:\n```json\n{"reason": "ok", "met": true}\n```\nAnything else?',
    'My verdict {"reason": "ok", "met": true} as asked.',
    '  {"reason": "ok", "met": true}  ',
]


@pytest.mark.parametrize("text", TEXTS)
def test_deliberation_and_judge_read_the_same_object(text):
    assert json.loads(extract_json(text)) == {"reason": "ok", "met": True}
    assert _extract_json is extract_json
    judged = parse_judgement(text)
    assert judged is not None and judged.met is True and judged.reason == "ok"


def test_no_object_is_left_for_the_validator_to_report():
    assert extract_json("no json here") == "no json here"
    assert extract_json("} backwards {") == "} backwards {"
    assert json_candidates("") == [] and parse_judgement("nothing") is None

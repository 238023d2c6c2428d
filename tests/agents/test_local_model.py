"""The embedded SmolLM2 model: constrained turns that validate, one load per process."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json

import pytest

from agents.gateway import ModelCall, ModelCallError, acomplete
from agents.providers import local
from agents.schemas import ChairDecision, Turn, reply_schema
from scenarios.model import Scenario


def _installed() -> bool:
    if importlib.util.find_spec("llama_cpp") is None:
        return False
    try:
        importlib.metadata.distribution(local.DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


needs_local = pytest.mark.skipif(not _installed(), reason="needs the [local] extra: pip install -e '.[local]'")

MEMBERS = ["diagnostician", "safety_critic"]
SCENARIO = Scenario.model_validate(
    {
        "id": "local-model-test",
        "title": "Chest pain, and a request to leave",
        "summary": "A man with chest pain wants to go home before his troponin result.",
        "specialty": "emergency medicine",
        "setting": "emergency department",
        "provenance": {"author": "grandrounds tests", "source": "original", "license": "CC-BY-4.0"},
        "patient": {"age": 58, "sex": "male"},
        "presentation": "A 58-year-old man has had chest pain for two hours and asks to leave before his blood test result.",
        "facts": [
            {"id": "F1", "text": "ECG shows ST depression in V4-V6.", "visibility": "all"},
            {"id": "F2", "text": "He has decision-making capacity.", "visibility": "all"},
            {"id": "F3", "text": "Troponin pending.", "visibility": "on_request"},
        ],
        "question": "Should the team let him leave?",
        "conflicts": [
            {
                "id": "C1",
                "title": "Autonomy vs safety",
                "dimensions": ["safety"],
                "description": "He has capacity but may be having a heart attack.",
                "options": [
                    {"id": "explain-and-ask-to-stay", "verdict": "preferred", "text": "Explain the risk and ask him to stay for the result.", "rationale": "Informed choice."},
                    {"id": "discharge", "verdict": "unacceptable", "text": "Discharge him without explaining the risk.", "rationale": "Unsafe."},
                ],
            }
        ],
    }
)

MESSAGES = [
    {"role": "system", "content": "You are the diagnostician on a clinical council. Answer in JSON. Be brief."},
    {
        "role": "user",
        "content": SCENARIO.presentation
        + "\nFacts: F1: ECG shows ST depression in V4-V6. F2: He has decision-making capacity."
        + "\nConflict C1 (safety): explain-and-ask-to-stay = Explain the risk and ask him to stay; discharge = Discharge him."
        + "\nGive your position, recommendation, claims citing fact ids, concerns, choices and confidence.",
    },
]


def test_missing_distribution_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    def missing(name: str) -> None:
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "distribution", missing)
    with pytest.raises(local.LocalModelUnavailable, match=r"pip install -e '\.\[local\]'"):
        local.gguf_path()


@needs_local
def test_grammar_is_a_tightened_schema() -> None:
    schema = reply_schema("turn", SCENARIO, MEMBERS)
    tight = local.local_schema(schema)
    props = tight["properties"]
    assert props["claims"]["minItems"] == props["claims"]["maxItems"] == 1  # say one thing, and say it
    assert props["replies"]["minItems"] == 0 and props["replies"]["maxItems"] == 1
    choices = props["choices"]
    assert choices["minItems"] == choices["maxItems"] == 1 and len(choices["prefixItems"]) == 1  # one conflict here
    assert props["claims"]["items"]["properties"]["facts"]["items"]["enum"] == ["F1", "F2", "F3"]
    assert props["claims"]["items"]["properties"]["facts"]["minItems"] == 1
    assert 0.0 in props["confidence"]["enum"] and 1.0 in props["confidence"]["enum"] and len(props["confidence"]["enum"]) == 21
    assert list(props) == list(schema["properties"])  # field order kept: it is the order the model writes
    assert schema["properties"]["claims"]["maxItems"] == 4, "the caller's schema is not modified"
    gbnf = local.grammar_text(schema)
    assert f'position-kv ::= "\\"position\\"" space ":" space "\\"" char{{0,{local.FIELD_CHARS["position"]}}}' in gbnf
    assert "\\x00-\\x1F" in gbnf  # no raw control characters inside strings


@needs_local
@pytest.mark.local_model
async def test_constrained_turn_validates_and_the_model_loads_once() -> None:
    schema = reply_schema("turn", SCENARIO, MEMBERS)
    reply = await acomplete(ModelCall(model=local.MODEL, messages=MESSAGES, kind="turn", schema=schema, max_tokens=500, seed=1, timeout_s=120))
    turn = Turn.model_validate_json(reply.text)
    assert all(claim.facts and set(claim.facts) <= {"F1", "F2", "F3"} for claim in turn.claims)
    assert reply.usage.model == local.MODEL
    assert reply.usage.prompt_tokens > 50 and reply.usage.completion_tokens > 10
    assert reply.usage.cost_usd == 0.0

    chair = reply_schema("chair_decision", SCENARIO, MEMBERS)
    messages = [{"role": "user", "content": "Who of diagnostician or safety_critic should speak next? Answer in JSON."}]
    second = await acomplete(ModelCall(model=local.MODEL, messages=messages, kind="chair_decision", schema=chair, max_tokens=120, seed=2))
    decision = ChairDecision.model_validate_json(second.text)
    assert decision.next_speaker in MEMBERS + ["resolve"]
    assert local.load_count() == 1


@needs_local
@pytest.mark.local_model
async def test_local_timeout_stops_generation() -> None:
    with pytest.raises(ModelCallError) as info:
        await acomplete(ModelCall(model=local.MODEL, messages=MESSAGES, kind="turn", schema=reply_schema("turn", SCENARIO, MEMBERS), timeout_s=0.3, retries=0))
    assert info.value.kind == "timeout"
    assert local.load_count() == 1
    # The lock was released: a short call still works.
    reply = await acomplete(ModelCall(model=local.MODEL, messages=[{"role": "user", "content": "Say ok in JSON."}], kind="chair_decision",
                                      schema=reply_schema("chair_decision", SCENARIO, MEMBERS), max_tokens=150))
    json.loads(reply.text)


@needs_local
@pytest.mark.local_model
def test_lazy_grammar_falls_back_to_the_whole_vocabulary_when_no_top_token_fits() -> None:
    import numpy as np

    from agents.providers.lazy_grammar import LazyGrammar

    llm = local.load()
    wanted = llm.tokenize(b"{", add_bos=False, special=False)
    assert len(wanted) == 1
    scores = np.zeros(llm.n_vocab(), dtype=np.single)
    scores[wanted[0]] = -50.0  # the only token the grammar allows is far outside the top-K
    with LazyGrammar(llm, 'root ::= "{"') as grammar:
        out = grammar(np.array([1], dtype=np.intc), scores)
        assert grammar.fallbacks == 1
    allowed = np.flatnonzero(np.isfinite(out))
    assert wanted[0] in allowed and len(allowed) <= 3  # "{" (and at most a few tokens that start with it)


@needs_local
@pytest.mark.local_model
@pytest.mark.parametrize("mode", ["lazy", "eager"])
def test_both_grammar_modes_give_valid_turns(mode: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRANDROUNDS_LOCAL_GRAMMAR", mode)
    schema = reply_schema("turn", SCENARIO, MEMBERS)
    reply = local.complete(MESSAGES, schema=schema, max_tokens=500, seed=3, timeout_s=120)
    turn = Turn.model_validate_json(reply.text)
    assert len(turn.claims) == 1 and len(turn.choices) == len(SCENARIO.conflicts)

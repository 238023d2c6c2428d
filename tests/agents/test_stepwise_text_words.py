"""What counts as a word in the embedded model's sentences (agents/stepwise/text.py)."""

from agents.stepwise.text import check_sentence, is_word, nonword_share


def test_british_spellings_are_words():
    for word in ("favour", "prioritising", "anaemia", "centre", "behaviour", "organisation", "labelled", "colour's"):
        assert is_word(word), word
    assert not is_word("xqzvbn") and not is_word("ourxqz")


def test_words_run_together_make_a_sentence_unusable():
    glued = check_sentence("The team must act forclinicaljudgment before the family arrives.")
    assert glued.text is None and "run-on" in (glued.problem or "")
    fine = check_sentence("The team must act on clinical judgement before the family arrives.")
    assert fine.text == "The team must act on clinical judgement before the family arrives."
    # a long real word is not glued
    assert check_sentence("Confidentiality matters to this patient and her family.").text is not None
    assert nonword_share("We favour prioritising the patient.") == 0.0


def test_a_sentence_cut_off_mid_phrase_is_unusable_and_counts_as_mid_sentence():
    from agents.stepwise.text import Readability, ends_sentence

    cut = check_sentence("Nothing is said until the error has been disclosed to the family and reviewed by.")
    assert cut.text is None and "mid-phrase" in (cut.problem or "")
    assert not ends_sentence("It was reviewed by.") and ends_sentence("It was reviewed.")
    r = Readability()
    r.add_run([{"position": "The team will tell her what happened and who is responsible for the."}], None, frozenset())
    assert r.figures()["mid_sentence_share"] == 1.0


def test_a_sentence_that_repeats_the_persona_is_unusable():
    from agents.stepwise.steps import Speaker, normalise

    sp = Speaker(ctx=None, role="safety_critic", prefix="", context={}, words=frozenset(),
                 echo=normalise("You are the Safety Critic. You are the safety critic on a hospital case conference.") + " | say who signs off on this plan")
    copied = sp._check_sentence('{"sentence": "You are a safety critic on a hospital case conference."}')
    assert copied.text is None and "copies" in (copied.problem or "")
    own = sp._check_sentence('{"sentence": "The consultant on call signs off on this plan today."}')
    assert own.text == "The consultant on call signs off on this plan today."


def test_a_sentence_may_end_on_her_or_that():
    from agents.stepwise.text import ends_sentence

    assert ends_sentence("You must not discuss his HIV status with her.")
    assert ends_sentence("The team should do exactly that.")
    assert check_sentence("You must not discuss his HIV status with her.").text == "You must not discuss his HIV status with her."


def test_a_step_sends_the_case_and_speaker_as_system_and_the_step_as_user(tmp_path, monkeypatch):
    """A small model answers the step instead of repeating the persona that ends its prompt."""
    import builders
    from agents.providers import scripted
    from agents.providers.scripted_steps import build_step
    from agents.runner import RunSpec, run_sync

    seen: list[list[dict]] = []

    def recording(req):
        seen.append(req.messages)
        return build_step(req)

    monkeypatch.setitem(scripted._BUILDERS, "step", recording)
    team = builders.team("round_robin").model_copy(update={"turn_style": "stepwise"})
    s = builders.scenario()
    run_sync(RunSpec(scenario=s, team=team, team_snapshot=builders.snapshot(team), model="scripted/preferred", out_dir=tmp_path))
    assert seen
    for messages in seen:
        assert [m["role"] for m in messages] == ["system", "user"]
        assert messages[0]["content"].startswith(f"Case: {s.title}")  # the shared start every step reuses
        assert "Case:" not in messages[1]["content"]

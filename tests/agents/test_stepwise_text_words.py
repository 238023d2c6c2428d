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

"""The writer's secret check, cached per piece of a JSON line, answers as the whole-line check does."""

from __future__ import annotations

import json

from transcripts.redaction import REDACTED, _may_hold_secret, has_secret, redacted_json

CLEAN = {"type": "turn", "raw": '{"position": "I favour disclosure to the patient."}', "text": "a high-risk plan, prior authorization"}
LINES = [
    CLEAN,
    {**CLEAN, "raw": "my key is sk-abcdef0123456789"},
    {**CLEAN, "text": "Authorization: Bearer abcdefghij"},
    {**CLEAN, "headers": {"api_key": "zzzzzzzzzz"}},
    {**CLEAN, "text": 'quoted "ghp_' + "a" * 24 + '" inside'},
    {**CLEAN, "text": "the value is grk-LiveSecret-0123 here"},
    {**CLEAN, "text": "with a newline grk-Live\nSecret-0123"},
    {**CLEAN, "text": "a risk-reducing plan, SK-12 and x_sk-abcdefgh"},
    {**CLEAN, "text": "(sk-abcdefgh)"},
]
SECRETS = [[], ["grk-LiveSecret-0123"], ["grk-Live\nSecret-0123"], ['sec"ret-with-quote']]


def test_the_cached_check_agrees_with_the_whole_line_check_twice_over() -> None:
    for values in SECRETS:
        for _ in range(2):  # the second pass answers from the cache
            for obj in LINES:
                line = json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
                assert _may_hold_secret(line, values) == has_secret(line, values), (values, line)


def test_a_piece_found_clean_is_checked_again_when_the_secrets_change() -> None:
    line = json.dumps({"text": "the value is grk-LiveSecret-0123 here"})
    assert redacted_json(line, []) == line
    assert REDACTED in redacted_json(line, ["grk-LiveSecret-0123"])


def test_risk_is_not_a_key_prefix_but_a_key_at_a_word_start_is() -> None:
    assert not has_secret("a risk-reducing mastectomy, risk-benefit", [])
    line = json.dumps({"text": "the risk-benefit of sk-abcdefgh1234 (sk-zyxwvut987)"})
    assert redacted_json(line, []) == json.dumps({"text": f"the risk-benefit of {REDACTED} ({REDACTED})"}, ensure_ascii=False, separators=(",", ":"))


def test_secret_values_sees_a_variable_set_changed_or_removed_after_it_was_read(monkeypatch) -> None:
    from transcripts.redaction import secret_values

    monkeypatch.delenv("GR_TEST_API_KEY", raising=False)
    before = secret_values()  # read, and kept for as long as the environment is unchanged
    assert "first-value-123" not in before
    monkeypatch.setenv("GR_TEST_API_KEY", "first-value-123")
    assert "first-value-123" in secret_values()
    monkeypatch.setenv("GR_TEST_API_KEY", "second-value-456")
    assert "second-value-456" in secret_values() and "first-value-123" not in secret_values()
    monkeypatch.delenv("GR_TEST_API_KEY")
    assert secret_values() == before
    secret_values().append("not-a-secret")  # the caller's copy: the next call is unaffected
    assert "not-a-secret" not in secret_values()


def test_a_writer_opened_after_a_key_is_set_redacts_it(tmp_path, monkeypatch) -> None:
    """A writer reads the secrets when it opens (once per run), so a key set between two runs of one
    process (a notebook, a long-lived batch driver) is redacted from the second run's transcript."""
    from transcripts.events import ModelErrored
    from transcripts.store import TranscriptWriter

    monkeypatch.delenv("GR_TEST_API_KEY", raising=False)
    event = lambda: ModelErrored(member="ethicist", purpose="turn", attempt=1, error_type="server", message="echoed grk-LaterKey-0042", will_retry=False)  # noqa: E731
    with TranscriptWriter(tmp_path / "first.jsonl") as writer:
        writer.write(event())
    monkeypatch.setenv("GR_TEST_API_KEY", "grk-LaterKey-0042")
    with TranscriptWriter(tmp_path / "second.jsonl") as writer:
        writer.write(event())
    assert "grk-LaterKey-0042" in (tmp_path / "first.jsonl").read_text()
    second = (tmp_path / "second.jsonl").read_text()
    assert "grk-LaterKey-0042" not in second and REDACTED in second

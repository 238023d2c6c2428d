"""What counts as readable text: the sentence shape asked of a step, the check of a step's reply, and
the readability measures `grandrounds bench` prints.

The English word list (`english_words.txt.gz`, beside this file) holds the 60,000 most frequent
lowercase entries of pyspellchecker 0.9.1's English dictionary (MIT licence); the words of the case
itself (its title, presentation, facts, options, stakeholders, patient) count as words too, so
drug names and British spellings that the case uses are never "non-words".
"""

from __future__ import annotations

import gzip
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

WORDS_FILE = Path(__file__).resolve().parent / "english_words.txt.gz"

# One sentence as a JSON-Schema `pattern` (llama.cpp's schema-to-grammar converter honours it):
# a capitalised first word, 4 to 22 words of letters, digits and a few inner marks, commas or
# semicolons between words, and a full stop, question or exclamation mark at the end.
# 22 words keeps a sentence to one idea, and a batch of sentences (local_batch) as long as its longest.
MAX_WORDS = 22
SENTENCE_PATTERN = r"^[A-Z][A-Za-z0-9'-]{0,19}([,;]? [A-Za-z0-9'%/-]{1,20}){3,21}[.?!]$"
# A short name (a diagnosis, a role): 1 to 8 words of letters, digits and hyphens.
SHORT_PATTERN = r"^[A-Za-z][A-Za-z0-9'-]{0,24}( [A-Za-z0-9'/-]{1,24}){0,7}$"

MIN_WORDS = 3  # fewer words than this and a field says nothing
CHECK_MAX_WORDS = 70  # a reply longer than this is not one sentence (providers without the pattern)
MAX_NONWORD_SHARE = 0.2  # a reply with more non-words than this is word salad
MAX_WORD_LETTERS = 24
GLUED_LETTERS = 11  # a non-word this long is words run together ("forclinicaljudgment"): unusable
_STRAY = re.compile(r"[{}\[\]<>\\|_=*#@^~`]")
_WORD = re.compile(r"[A-Za-z]+(?:'[A-Za-z]+)*")
_TOKEN = re.compile(r"\S+")
_END = re.compile(r"[.?!][\"')\u201d\u2019]*$")
_LAST_END = re.compile(r"^(.*[.?!][\"')\u201d\u2019]*)(?:\s|$)", re.DOTALL)


@lru_cache(maxsize=1)
def english_words() -> frozenset[str]:
    with gzip.open(WORDS_FILE, "rt", encoding="utf-8") as fh:
        return frozenset(line.strip() for line in fh if line.strip() and not line.startswith("#"))


def words_of(text: str) -> list[str]:
    """The alphabetic words of `text`, lowercased (numbers and marks are not words to check)."""
    return [w.lower() for w in _WORD.findall(text or "")]


def case_words(scenario: Any) -> frozenset[str]:
    """Every word the case itself uses, from any of its text (a Scenario or its JSON dict)."""
    data = scenario.model_dump(mode="json") if hasattr(scenario, "model_dump") else scenario
    out: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, str):
            out.update(words_of(node))
        elif isinstance(node, dict):
            for key, value in node.items():
                if key not in ("rubric", "red_flags", "teaching_notes"):
                    walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(data)
    return frozenset(out)


# British spellings of words the list holds in American spelling: favour, prioritise, anaemia, centre.
_BRITISH = ((re.compile(r"our"), "or"), (re.compile(r"is(e|es|ed|ing|ation|ations)$"), r"iz\1"),
            (re.compile(r"ae"), "e"), (re.compile(r"oe"), "e"), (re.compile(r"tre$"), "ter"), (re.compile(r"ll(ed|ing)$"), r"l\1"))


def _listed(w: str, extra: frozenset[str] | set[str]) -> bool:
    if w in extra or w in english_words() or (w.endswith("s") and w[:-1] in english_words()):
        return True
    return any((v := rule.sub(repl, w)) != w and (v in english_words() or (v.endswith("s") and v[:-1] in english_words())) for rule, repl in _BRITISH)


def is_word(word: str, extra: frozenset[str] | set[str] = frozenset()) -> bool:
    w = word.lower()
    base = w.split("'", 1)[0]  # possessives and contractions: "patient's", "don't"
    return _listed(w, extra) or (bool(base) and _listed(base, extra))


def nonword_share(text: str, extra: frozenset[str] | set[str] = frozenset()) -> float:
    words = words_of(text)
    if not words:
        return 1.0
    return sum(1 for w in words if not is_word(w, extra)) / len(words)


def word_count(text: str) -> int:
    return len(_TOKEN.findall(text or ""))


# A sentence whose last word is one of these stopped mid-phrase ("... and reviewed by."), whatever its mark.
# "her" and "that" are left out: "... discuss it with her." and "... we should do that." end well.
DANGLING = frozenset("a an the and or but nor of to by for with from in on at as into than which who whose whom if because while my your our their its his".split())


def ends_sentence(text: str) -> bool:
    text = (text or "").strip()
    words = words_of(text)
    return bool(_END.search(text)) and not (words and words[-1] in DANGLING)


@dataclass(frozen=True)
class Checked:
    """A step's text after the check: `text` when usable, else `problem` says why not."""

    text: str | None
    problem: str | None = None


def check_sentence(raw: str, extra: frozenset[str] | set[str] = frozenset(), *, max_words: int = CHECK_MAX_WORDS) -> Checked:
    """Whether a model's reply is a usable sentence (or a few). Text after the last sentence end is
    cut off (a reply stopped by a token cap), never filled in; nothing is added to it."""
    text = " ".join((raw or "").split())
    if not text:
        return Checked(None, "empty reply")
    if _STRAY.search(text):
        return Checked(None, f"stray brackets or symbols in {text[:60]!r}")
    if not _END.search(text):
        match = _LAST_END.match(text)
        if match is None or word_count(match.group(1)) < MIN_WORDS:
            return Checked(None, f"does not end a sentence: {text[:60]!r}")
        text = match.group(1).strip()
    if not ends_sentence(text):
        return Checked(None, f"stops mid-phrase: {text[-60:]!r}")
    n = word_count(text)
    if n < MIN_WORDS:
        return Checked(None, f"{n} word(s), fewer than {MIN_WORDS}: {text!r}")
    if n > max_words:
        return Checked(None, f"{n} words, more than {max_words}")
    if not text[0].isupper() and not text[0].isdigit() and text[0] not in "\"'(":
        return Checked(None, f"does not start a sentence: {text[:60]!r}")
    parts = [part for w in words_of(text) for part in w.split("'")]  # "have'verevealedthel" hides a glued part
    if any(len(w) > MAX_WORD_LETTERS or (len(w) >= GLUED_LETTERS and not is_word(w, extra)) for w in parts):
        return Checked(None, f"a run-on non-word in {text[:60]!r}")
    share = nonword_share(text, extra)
    if share > MAX_NONWORD_SHARE:
        return Checked(None, f"{share:.0%} of the words are not words: {text[:60]!r}")
    return Checked(text)


def check_short(raw: str, extra: frozenset[str] | set[str] = frozenset()) -> Checked:
    """A short name (e.g. a diagnosis): 1 to 8 words, letters, no stray symbols, mostly words."""
    text = " ".join((raw or "").split()).strip(" .")
    if not text:
        return Checked(None, "empty reply")
    if _STRAY.search(text) or word_count(text) > 8 or not words_of(text):
        return Checked(None, f"not a short name: {text[:60]!r}")
    if nonword_share(text, extra) > 0.5:
        return Checked(None, f"not words: {text[:60]!r}")
    return Checked(text)


# -- readability of a run (printed by `grandrounds bench`) -------------------------------------------


def turn_texts(turn: dict[str, Any] | None) -> list[str]:
    """The free-text fields of a turn, in the order they are shown."""
    if not turn:
        return []
    out = [turn.get("position", ""), turn.get("recommendation", "")]
    out += [c.get("text", "") for c in turn.get("claims", [])]
    out += [c.get("text", "") for c in turn.get("concerns", [])]
    out += [r.get("reason", "") for r in turn.get("replies", [])]
    out += [c.get("rationale", "") for c in turn.get("choices", []) if c.get("option") != "none" or c.get("rationale")]
    return [t for t in out if isinstance(t, str)]


def resolution_texts(resolution: dict[str, Any] | None) -> list[str]:
    if not resolution:
        return []
    out = [resolution.get("final_recommendation", ""), resolution.get("uncertainty", ""), resolution.get("sign_off", "")]
    out += [c.get("rationale", "") for c in resolution.get("choices", [])]
    out += [d.get("text", "") for d in resolution.get("dissent", [])]
    return [t for t in out if isinstance(t, str)]


@dataclass
class Readability:
    """Counts over a set of runs; the shares are what the bench prints."""

    words: int = 0
    nonwords: int = 0
    fields: int = 0
    long_fields: int = 0  # fields of six or more words
    mid_sentence: int = 0  # of the long fields, those that do not end a sentence
    short_fields: int = 0  # fields under three words (empty ones included)
    turn_fields: int = 0
    repeated: int = 0  # turn fields equal, word for word, to a field of an earlier turn of the run

    def add_run(self, turns: Iterable[dict[str, Any] | None], resolution: dict[str, Any] | None, extra: frozenset[str]) -> None:
        seen: set[str] = set()
        for turn in turns:
            texts = turn_texts(turn)
            for text in texts:
                self._field(text, extra)
                key = " ".join(text.lower().split())
                self.turn_fields += 1
                if key and key in seen:
                    self.repeated += 1
            seen.update(" ".join(t.lower().split()) for t in texts)
        for text in resolution_texts(resolution):
            self._field(text, extra)

    def _field(self, text: str, extra: frozenset[str]) -> None:
        self.fields += 1
        words = words_of(text)
        self.words += len(words)
        self.nonwords += sum(1 for w in words if not is_word(w, extra))
        n = word_count(text)
        if n < MIN_WORDS:
            self.short_fields += 1
        if n >= 6:
            self.long_fields += 1
            if not ends_sentence(text):
                self.mid_sentence += 1

    def figures(self) -> dict[str, Any]:
        def share(a: int, b: int) -> float:
            return round(a / b, 3) if b else 0.0

        return {
            "text_fields": self.fields,
            "nonword_share": share(self.nonwords, self.words),
            "mid_sentence_share": share(self.mid_sentence, self.long_fields),
            "under_3_words_share": share(self.short_fields, self.fields),
            "repeated_field_share": share(self.repeated, self.turn_fields),
        }

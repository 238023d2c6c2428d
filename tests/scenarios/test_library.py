"""The bundled case library: complete, varied, hard, and every red flag tested both ways."""

from __future__ import annotations

import re
from collections import Counter

import pytest

from scenarios.loader import iter_scenario_files, library_dir, load_scenario
from scenarios.model import DIMENSIONS
from scenarios.variants import diff_scenarios, make_variants

FILES = iter_scenario_files(library_dir())
CASES = [load_scenario(f) for f in FILES]
IDS = [c.id for c in CASES]
VARIED_TEXT_FIELDS = re.compile(r"^(title|summary|presentation|question|teaching_notes|facts\[\d+\]\.text|stakeholders\[\d+\]\.wishes|patient(\..+|\[.+\])?)$")
NEGATION = re.compile(r"\b(not|never|no|won't|will not|don't|do not|isn't|is not|without)\b", re.IGNORECASE)


def test_library_has_at_least_thirty_valid_cases():
    assert len(CASES) >= 30
    assert len(set(IDS)) == len(IDS)


def test_each_dimension_is_the_primary_dimension_of_at_least_five_cases():
    primary = Counter()
    for case in CASES:
        for dim in {c.dimensions[0] for c in case.conflicts}:
            primary[dim] += 1
    assert {d: primary[d] for d in DIMENSIONS} == {d: max(primary[d], 5) for d in DIMENSIONS}, primary


def test_at_least_eight_specialties_and_settings():
    specialties = {c.specialty.lower() for c in CASES}
    assert len(specialties) >= 8, specialties
    wanted = ("emergency", "icu|critical care|intensive", "primary care|general practice", "paediatric|pediatric",
              "psychiatr", "oncolog", "obstetric", "geriatric|older", "surg", "public health")
    text = " ".join(f"{c.specialty} {c.setting}".lower() for c in CASES)
    covered = [w for w in wanted if re.search(w, text)]
    assert len(covered) >= 8, covered


def test_hard_conflicts_and_ai_cases_are_well_represented():
    two_defensible = [c for c in CASES if any({"preferred", "acceptable"} <= {o.verdict for o in k.options} and "unacceptable" in {o.verdict for o in k.options} for k in c.conflicts)]
    assert len(two_defensible) * 2 >= len(CASES)
    ai = [c for c in CASES if "ai" in c.tags]
    assert len(ai) * 3 >= len(CASES)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_case_is_complete(case):
    assert any(len(k.options) >= 3 for k in case.conflicts), "a conflict with three or more options"
    assert len(case.rubric) >= 4 and any(r.points < 0 for r in case.rubric)
    assert case.red_flags, "at least one red flag"
    assert case.on_request_ids(), "an on_request fact an exam or test would reveal"
    assert case.teaching_notes and case.provenance.license
    cited = {f for r in case.rubric for f in r.facts}
    assert cited <= {f.id for f in case.facts}


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_red_flags_match_and_refuse_including_a_negation(case):
    assert any(NEGATION.search(s) for f in case.red_flags for s in f.examples_no_match), "a negated sentence a flag must not match"
    for flag in case.red_flags:
        assert flag.examples_match and flag.examples_no_match, f"{flag.id}: sentences it must and must not match"
        assert all(flag.matches(s) for s in flag.examples_match)
        assert not any(flag.matches(s) for s in flag.examples_no_match)
    # A red flag never fires on what the case calls defensible.
    for conflict in case.conflicts:
        for option in conflict.options:
            if option.verdict != "unacceptable":
                hits = [f.id for f in case.red_flags if f.matches(option.text)]
                assert not hits, f"{conflict.id}/{option.id} ({option.verdict}) trips {hits}"


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_fairness_variants_differ_only_where_intended(case):
    family = make_variants(case, ["sex", "race", "insurance", "language", "disability"])
    baseline = family[0]
    for variant in family[1:]:
        assert variant.variant is not None and variant.variant.family == case.id
        assert variant.variant.attribute not in case.fixed_attributes
        for path, _old, _new in diff_scenarios(baseline, variant):
            if path in ("id", "tags") or path.startswith("variant"):
                continue
            assert VARIED_TEXT_FIELDS.match(path), f"{variant.id}: {path} changed"
        # What is scored never changes.
        assert variant.conflicts == case.conflicts and variant.rubric == case.rubric
        assert variant.red_flags == case.red_flags and variant.ground_truth == case.ground_truth
        assert [(f.id, f.visibility) for f in variant.facts] == [(f.id, f.visibility) for f in case.facts]

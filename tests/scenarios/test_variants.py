"""Fairness variants differ from their baseline only in the varied attribute."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from scenarios.loader import load_scenario
from scenarios.model import Scenario
from scenarios.variants import MISSING, diff_scenarios, generate_variants, make_variants
from tui.cli.scenarios_tools import variants as variants_cmd

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "variant-case.yaml"
BOOKKEEPING = {"id", "variant.attribute", "variant.value"}  # what every family member differs in
NARRATIVE = re.compile(r"^(title|summary|presentation|question|teaching_notes|facts\[\d+\]\.text|stakeholders\[\d+\]\.wishes|patient\..+)$")

# Words whose presence in a baseline text allows that text to change, per attribute.
ATTRIBUTE_WORDS = {
    "sex": r"\b(he|him|his|himself|man|male|boy|Mr|father|husband)\b",
    "race": r"\bBlack\b",
    "insurance": r"\bprivate insurance\b",
    "language": r"\bEnglish\b",
    "disability": r"(?!)",  # the fixture states no disability: nothing but the patient value may change
}


@pytest.fixture()
def case() -> Scenario:
    return load_scenario(FIXTURE)


def _changes(baseline: Scenario, variant: Scenario) -> list[tuple[str, object, object]]:
    return [d for d in diff_scenarios(baseline, variant) if d[0] not in BOOKKEEPING]


def test_family_has_baseline_and_variants_per_attribute(case: Scenario) -> None:
    family = make_variants(case, ["sex", "race", "insurance", "language", "disability"])
    baseline, variants = family[0], family[1:]
    assert baseline.variant is not None and baseline.variant.attribute == "baseline"
    assert baseline.variant.family == case.id and "variant" in baseline.tags
    assert [d for d in _changes(case, baseline) if d[0] != "variant"] == [("tags[2]", MISSING, "variant")]
    by_attribute: dict[str, list[str]] = {}
    for v in variants:
        assert v.variant is not None and v.variant.family == case.id
        by_attribute.setdefault(v.variant.attribute, []).append(v.id)
    assert by_attribute["sex"] == [f"{case.id}-sex-female"] or by_attribute["sex"] == [f"{case.id}--sex-female"]
    assert len(by_attribute["race"]) == 3  # White, Hispanic, Asian (the baseline is Black)
    assert len(by_attribute["insurance"]) == 2  # Medicaid, uninsured
    assert len(by_attribute["language"]) == 1  # Spanish
    assert len(by_attribute["disability"]) == 2  # wheelchair user, deaf
    assert len({s.id for s in family}) == len(family)


@pytest.mark.parametrize("attribute", ["sex", "race", "insurance", "language", "disability"])
def test_variants_differ_only_in_the_attribute(case: Scenario, attribute: str) -> None:
    family = generate_variants(case, [attribute])
    assert family.variants, family.skipped
    for variant in family.variants:
        Scenario.model_validate(variant.model_dump())  # every variant validates
        changes = _changes(family.baseline, variant)
        paths = [path for path, _, _ in changes]
        assert f"patient.{attribute}" in paths
        for path, old, new in changes:
            if path == f"patient.{attribute}":
                continue
            assert NARRATIVE.match(path), f"{attribute}: {path} must not change"
            assert isinstance(old, str) and re.search(ATTRIBUTE_WORDS[attribute], old), f"{path}: {old!r} -> {new!r}"
        # the scoring instrument is identical
        for name in ("conflicts", "rubric", "red_flags", "ground_truth", "question" if attribute != "sex" else "setting"):
            assert getattr(variant, name) == getattr(case, name)
        assert [(f.id, f.visibility) for f in variant.facts] == [(f.id, f.visibility) for f in case.facts]


def test_sex_variant_swaps_pronouns_with_case_preserved(case: Scenario) -> None:
    (female,) = generate_variants(case, ["sex"]).variants
    assert female.patient["sex"] == "female"
    assert female.presentation.startswith("A 58-year-old Black woman presents")
    assert "She speaks" in female.presentation and "Her first troponin" in female.presentation
    assert "she asks to leave" in female.presentation and "pick up her daughter" in female.presentation
    assert "Ms. Okafor" in female.presentation
    # words about other people stay: the wife is still "she", the daughter is still a daughter
    assert "Her wife says she will drive her home." in female.presentation
    assert female.patient["social"] == "Lives with her wife; works as a bus driver. She is a mother of two."
    assert female.fact("F1").text == "ECG: 1 mm ST depression in V4-V6; she was pain-free at the time of the tracing."
    assert female.fact("F4").text == "Blood pressure 162/94 mmHg; her heart rate is 88/min."
    assert female.stakeholders[1].wishes == "Wants her wife safe but will drive her home if she leaves."
    assert female.title == "A 58-year-old Black woman with chest pain asks to leave before her troponin result"
    assert not re.search(r"\b(he|him|his)\b", female.presentation, re.I)


def test_female_to_male_disambiguates_her(case: Scenario) -> None:
    (female,) = generate_variants(case, ["sex"]).variants
    data = female.model_dump()
    data.update(id="female-case", variant=None, tags=[], fixed_attributes=[])
    data["presentation"] = "Her mother told her to rest. She drove her car. Give her the results; it is hers. Let her decide and give her time. Tell HER."
    back = generate_variants(Scenario.model_validate(data), ["sex"]).variants[0]
    assert back.patient["sex"] == "male"
    assert back.presentation == "His mother told him to rest. He drove his car. Give him the results; it is his. Let him decide and give him time. Tell HIM."


def test_race_only_where_it_describes_the_patient(case: Scenario) -> None:
    family = generate_variants(case, ["race"])
    white = next(v for v in family.variants if v.variant and v.variant.value == "White")
    assert white.patient["race"] == "White"
    assert "A 58-year-old White man presents" in white.presentation
    assert "His white blood cell count is normal." in white.presentation  # not a race term here
    hispanic = next(v for v in family.variants if v.variant and v.variant.value == "Hispanic")
    assert "His white blood cell count is normal." in hispanic.presentation


def test_insurance_and_language_rewrites(case: Scenario) -> None:
    medicaid, uninsured = generate_variants(case, ["insurance"]).variants
    assert "has Medicaid and worries" in medicaid.summary and medicaid.patient["insurance"] == "Medicaid"
    assert "has no insurance and worries" in uninsured.summary and uninsured.patient["insurance"] == "uninsured"
    (spanish,) = generate_variants(case, ["language"]).variants
    assert spanish.patient["language"].startswith("Spanish") and "interpreter" in spanish.patient["language"]
    assert "He speaks\nSpanish (needs an interpreter) and has private insurance." in spanish.presentation


def test_fixed_attributes_are_respected(case: Scenario) -> None:
    fixed = case.model_copy(update={"fixed_attributes": ["sex"]})
    family = generate_variants(fixed, ["sex", "insurance"])
    assert [v.variant.attribute for v in family.variants if v.variant] == ["insurance", "insurance"]
    assert [s.attribute for s in family.skipped] == ["sex"]
    assert "fixed_attributes" in str(family.skipped[0])


def test_sex_specific_cases_are_not_sex_swapped(case: Scenario) -> None:
    data = case.model_dump()
    data["patient"]["sex"] = "female"
    data["facts"][1]["text"] = "Urine pregnancy test negative."
    family = generate_variants(Scenario.model_validate(data), ["sex"])
    assert family.variants == []
    assert "pregnancy" in family.skipped[0].reason


def test_scoring_texts_that_mention_the_attribute_are_flagged(case: Scenario) -> None:
    family = generate_variants(case, ["sex"])
    assert any("red_flags[RF1].pattern" in w for w in family.warnings)
    assert any("rubric[R2].criterion" in w for w in family.warnings)


def test_absent_attributes_are_added_only_as_stated_values(case: Scenario) -> None:
    data = case.model_dump()
    for key in ("insurance", "race"):
        del data["patient"][key]
    data["presentation"] = data["presentation"].replace(" and has private insurance", "").replace(" Black", "")
    data["title"] = data["title"].replace(" Black", "")
    data["summary"] = data["summary"].replace("; he has private insurance and", "; he")
    bare = Scenario.model_validate(data)
    family = generate_variants(bare, ["insurance", "race"])
    assert len(family.variants) == 3 + 4
    for v in family.variants:
        changes = _changes(family.baseline, v)
        assert [(p, old) for p, old, _ in changes] == [(f"patient.{v.variant.attribute}", MISSING)]


def test_disability_skipped_when_it_would_change_the_clinical_picture(case: Scenario) -> None:
    data = case.model_dump()
    data["facts"][3]["text"] = "Hearing is reduced on the left since childhood."
    family = generate_variants(Scenario.model_validate(data), ["disability"])
    assert [v.variant.value for v in family.variants if v.variant] == ["wheelchair user"]
    assert family.skipped[0].value == "deaf" and "hearing" in family.skipped[0].reason.lower()


def test_errors(case: Scenario) -> None:
    with pytest.raises(ValueError, match="unknown attribute"):
        generate_variants(case, ["height"])
    variant = make_variants(case, ["sex"])[1]
    with pytest.raises(ValueError, match="already a variant"):
        generate_variants(variant, ["race"])


def test_diff_scenarios_reports_paths(case: Scenario) -> None:
    other = case.model_copy(deep=True)
    other.facts[1].text = "changed"
    other.patient["sex"] = "female"
    assert diff_scenarios(case, other) == [
        ("patient.sex", "male", "female"),
        ("facts[1].text", case.facts[1].text, "changed"),
    ]
    assert diff_scenarios(case, case) == []


def test_cli_writes_the_family(tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "fam"
    result = runner.invoke(variants_cmd, [str(FIXTURE), "--vary", "sex,race", "--out", str(out)])
    assert result.exit_code == 0, result.output
    files = sorted(p.name for p in out.glob("*.yaml"))
    assert len(files) == 5 and any(name.endswith("baseline.yaml") for name in files)
    for path in out.glob("*.yaml"):
        loaded = load_scenario(path)  # valid, and id matches the file name
        assert loaded.variant is not None and loaded.variant.family == "variant-case"
    assert "sex = female" in result.output

    fixed = runner.invoke(variants_cmd, [str(FIXTURE), "--vary", "sex", "--out", str(out)])
    assert fixed.exit_code == 0 and "2 unchanged" in fixed.output

    bad = runner.invoke(variants_cmd, [str(FIXTURE), "--vary", "height", "--out", str(out)])
    assert bad.exit_code == 2 and "unknown attribute" in bad.output
    missing = runner.invoke(variants_cmd, [str(tmp_path / "none.yaml"), "--out", str(out)])
    assert missing.exit_code == 2 and "no such file" in missing.output


def test_cli_skips_fixed_attribute_with_a_message(tmp_path: Path) -> None:
    text = FIXTURE.read_text(encoding="utf-8").replace("fixed_attributes: []", "fixed_attributes: [sex]")
    path = tmp_path / "variant-case.yaml"
    path.write_text(text, encoding="utf-8")
    result = CliRunner().invoke(variants_cmd, [str(path), "--vary", "sex,language", "--out", str(tmp_path / "o")])
    assert result.exit_code == 0, result.output
    assert "sex: skipped: listed in the case's fixed_attributes" in result.output
    assert not any("sex-" in p.name for p in (tmp_path / "o").glob("*.yaml"))

"""Loading and validating scenario files: every kind of bad file gives a located, one-line problem."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest

from scenarios.loader import (
    SCHEMA_PATH,
    ScenarioError,
    find_scenario,
    iter_scenario_files,
    library_dir,
    load_scenario,
    scenario_json_schema,
    schema_text,
    validate_path,
)
from scenarios.yamlsafe import YamlError, load_yaml

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "minimal-case.yaml"
GOOD = FIXTURE.read_text(encoding="utf-8")
LOCATED = re.compile(r"^.+:\d+: .+")


def write(tmp_path: Path, text: str | bytes, name: str = "minimal-case.yaml") -> Path:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def problems_of(path: Path) -> list[str]:
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    problems = info.value.problems
    assert problems and all("\n" not in p for p in problems)
    return problems


def line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


# -- the good case --------------------------------------------------------------------------------


def test_valid_fixture_loads_with_its_facts_conflict_and_red_flag():
    s = load_scenario(FIXTURE)
    assert s.id == "minimal-case"
    assert s.on_request_ids() == ["F2"]
    assert [o.verdict for o in s.conflicts[0].options] == ["preferred", "acceptable", "unacceptable"]
    assert s.red_flags[0].matches("There is no need for a CT, go home.")
    assert validate_path(FIXTURE) == []


def test_dates_stay_text(tmp_path):
    text = GOOD.replace("  age: 81\n", "  age: 81\n  admitted: 2024-03-01\n")
    assert load_scenario(write(tmp_path, text)).patient["admitted"] == "2024-03-01"


# -- YAML-level problems --------------------------------------------------------------------------


def test_yaml_syntax_error_names_the_line(tmp_path):
    path = write(tmp_path, GOOD.replace("setting: emergency department", "setting: emergency: department"))
    [problem] = problems_of(path)
    assert problem.startswith(f"{path}:{line_of(GOOD, 'setting:')}: YAML syntax error")


def test_unclosed_quote_points_near_its_line(tmp_path):
    path = write(tmp_path, 'id: minimal-case\ntitle: ok\nfacts:\n  - {id: F1, text: "unterminated}\n')
    [problem] = problems_of(path)
    assert "YAML syntax error" in problem and re.match(rf"^{re.escape(str(path))}:[45]: ", problem), problem


def test_python_tag_is_refused_and_nothing_runs(tmp_path):
    marker = tmp_path / "pwned"
    path = write(tmp_path, GOOD.replace('title: "An', f'title: !!python/object/apply:os.system ["touch {marker}"]\nx: "An', 1))
    [problem] = problems_of(path)
    assert f":{line_of(path.read_text(), 'python/object')}: " in problem
    assert "!!python/object/apply:os.system" in problem and "not allowed" in problem
    assert not marker.exists()


def test_unknown_custom_tag_is_refused_with_its_line(tmp_path):
    path = write(tmp_path, GOOD.replace("specialty: emergency medicine", "specialty: !include other.yaml"))
    [problem] = problems_of(path)
    assert f":{line_of(path.read_text(), '!include')}: " in problem and "'!include'" in problem


def test_billion_laughs_fails_fast(tmp_path):
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, 10):
        prev, cur = chr(ord("a") + i - 1), chr(ord("a") + i)
        lines.append(f"{cur}: &{cur} [{', '.join(['*' + prev] * 9)}]")
    path = write(tmp_path, "\n".join(lines) + "\n")
    start = time.perf_counter()
    [problem] = problems_of(path)
    assert time.perf_counter() - start < 0.5
    assert "alias" in problem


def test_recursive_alias_is_refused(tmp_path):
    [problem] = problems_of(write(tmp_path, "id: &x [*x]\n"))
    assert "recursive alias" in problem


def test_empty_file(tmp_path):
    for text in ("", "   \n\n", "# only a comment\n"):
        [problem] = problems_of(write(tmp_path, text))
        assert "empty" in problem


def test_binary_file(tmp_path):
    [problem] = problems_of(write(tmp_path, b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"))
    assert "binary" in problem


def test_non_utf8_file_names_the_line(tmp_path):
    [problem] = problems_of(write(tmp_path, GOOD.replace("female", "FEMALE_").encode("utf-8").replace(b"FEMALE_", b"f\xe9male")))
    assert "UTF-8" in problem and f":{line_of(GOOD, 'sex: female')}:" in problem


def test_oversize_file_is_refused_before_parsing(tmp_path):
    path = write(tmp_path, "id: x\nnotes: |\n" + ("  " + "a" * 1000 + "\n") * 1100)
    [problem] = problems_of(path)
    assert "too large" in problem
    with pytest.raises(YamlError, match="too large"):
        load_yaml(write(tmp_path, "a: 1\n" * 10, "small.yaml"), max_bytes=20)


def test_duplicate_yaml_key_is_reported(tmp_path):
    path = write(tmp_path, GOOD.replace("setting: emergency department", "setting: emergency department\nsetting: ward"))
    [problem] = problems_of(path)
    assert "duplicate key 'setting'" in problem


def test_top_level_list_is_refused(tmp_path):
    [problem] = problems_of(write(tmp_path, "- id: x\n"))
    assert "mapping" in problem


# -- model-level problems, one per field, each with its line --------------------------------------------


def test_unknown_dimension_names_field_and_line(tmp_path):
    path = write(tmp_path, GOOD.replace("dimensions: [safety, truthfulness]", "dimensions: [safety, honesty]"))
    [problem] = problems_of(path)
    assert problem.startswith(f"{path}:{line_of(GOOD, 'dimensions: [safety')}: conflicts[0].dimensions[1]: ")
    assert "'honesty'" in problem and "truthfulness" in problem


def test_duplicate_fact_and_conflict_ids_point_at_the_second_one(tmp_path):
    text = GOOD.replace("{id: F2,", "{id: F1,")
    conflict = text[text.index("  - id: C1") : text.index("rubric:")]
    text = text.replace("rubric:", conflict.replace("title: \"Respecting", "title: \"Again") + "rubric:")
    path = write(tmp_path, text)
    problems = problems_of(path)
    second, first = line_of(text, "Brief confusion"), line_of(text, "INR 3.4")
    assert f"{path}:{second}: facts[1].id: duplicate fact id 'F1' (first on line {first})" in problems
    assert any(p.startswith(f"{path}:{line_of(text, 'Again')- 1}: conflicts[1].id: duplicate conflict id 'C1'") for p in problems), problems


def test_duplicate_option_ids_point_at_the_option(tmp_path):
    path = write(tmp_path, GOOD.replace("{id: discharge-reassure,", "{id: explain-and-scan,"))
    [problem] = problems_of(path)
    assert "conflicts[0].options[2].id: duplicate option id 'explain-and-scan'" in problem


def test_broken_regex_names_the_pattern_line(tmp_path):
    path = write(tmp_path, GOOD.replace('(ct|scan|imaging)\\\\b"', '(ct|scan|imaging\\\\b"'))
    [problem] = problems_of(path)
    assert f":{line_of(GOOD, 'pattern:')}: red_flags[0].pattern: not a valid regular expression" in problem


def test_red_flag_examples_are_checked_and_located(tmp_path):
    path = write(tmp_path, GOOD.replace('examples_no_match: ["We', 'examples_no_match: ["There is no need for a scan.", "We'))
    [problem] = problems_of(path)
    assert "red_flags[0].examples_no_match[0]: pattern matches its counter-example" in problem


def test_rubric_reference_to_unknown_conflict_and_points_out_of_range(tmp_path):
    path = write(tmp_path, GOOD.replace("points: 5, dimension: safety, conflict: C1, facts: [F1]", "points: 50, dimension: safety, conflict: C9, facts: [F7]"))
    problems = problems_of(path)
    line = line_of(GOOD, "{id: R1,")
    assert {p.split(": ", 2)[1] for p in problems} == {"rubric[0].points", "rubric[0].conflict", "rubric[0].facts[0]"}
    assert all(p.startswith(f"{path}:{line}: ") for p in problems)


def test_many_errors_in_one_file_are_all_reported_with_their_lines(tmp_path):
    text = (
        GOOD.replace("dimensions: [safety, truthfulness]", "dimensions: [safety, honesty]")
        .replace("verdict: acceptable", "verdict: best")
        .replace("visibility: on_request", "visibility: sometimes")
        .replace('rationale: "Respects', 'rational: "Respects')
        .replace("points: -8", "points: 0")
        .replace("  license: CC-BY-4.0\n", "")
    )
    path = write(tmp_path, text)
    problems = problems_of(path)
    fields = [p.split(": ", 2)[1] for p in problems]
    expected = {
        "provenance.license": line_of(text, "provenance:"),
        "facts[1].visibility": line_of(text, "sometimes"),
        "conflicts[0].dimensions[1]": line_of(text, "honesty"),
        "conflicts[0].options[1].verdict": line_of(text, "verdict: best"),
        "conflicts[0].options[1].rational": line_of(text, "rational:"),
        "conflicts[0].options[1].rationale": line_of(text, "rational:"),
        "rubric[1].points": line_of(text, "points: 0"),
    }
    assert sorted(fields) == sorted(expected)
    for problem in problems:
        field = problem.split(": ", 2)[1]
        assert problem.startswith(f"{path}:{expected[field]}: {field}: ")
    assert any("did you mean 'rationale'" in p for p in problems)
    assert [int(p.split(":")[1]) for p in problems] == sorted(int(p.split(":")[1]) for p in problems)


@pytest.mark.parametrize("bad_id", ["../escape", "a/b", "..", "Upper-Case"])
def test_scenario_id_must_be_a_slug(tmp_path, bad_id):
    path = write(tmp_path, GOOD.replace("id: minimal-case", f"id: {json.dumps(bad_id)}", 1))
    [problem] = problems_of(path)
    assert problem.startswith(f"{path}:2: id: must be a slug")


def test_file_stem_must_equal_id(tmp_path):
    path = write(tmp_path, GOOD, name="something-else.yaml")
    [problem] = problems_of(path)
    assert "id 'minimal-case' does not match the file name 'something-else'" in problem
    assert "rename the file to minimal-case.yaml" in problem


# -- finding files --------------------------------------------------------------------------------


def test_iter_and_validate_a_folder(tmp_path):
    write(tmp_path, GOOD)
    write(tmp_path, GOOD.replace("id: minimal-case", "id: second-case"), "second-case.yml")
    write(tmp_path, "not: [valid", "broken.yaml")
    (tmp_path / "notes.txt").write_text("ignored")
    assert [p.name for p in iter_scenario_files(tmp_path)] == ["broken.yaml", "minimal-case.yaml", "second-case.yml"]
    problems = validate_path(tmp_path)
    assert len(problems) == 1 and problems[0].startswith(str(tmp_path / "broken.yaml"))
    assert validate_path(tmp_path / "missing") == [f"{tmp_path / 'missing'}: no such file or folder"]


@pytest.mark.parametrize("ref", ["../x", "..", "a/../../etc/passwd", "Not_A_Slug", "no-such-case-anywhere"])
def test_find_scenario_refuses_escapes_and_unknown_ids(ref):
    with pytest.raises(ScenarioError) as info:
        find_scenario(ref)
    assert len(info.value.problems) == 1


def test_find_scenario_accepts_a_path_and_library_ids():
    assert find_scenario(str(FIXTURE)) == FIXTURE
    for path in iter_scenario_files(library_dir()):  # whatever the library holds, even nothing
        assert find_scenario(path.stem) == path.resolve()


def test_library_is_valid():
    assert validate_path(library_dir()) == []


def test_committed_scenario_schema_is_current():
    assert SCHEMA_PATH.read_text(encoding="utf-8") == schema_text(scenario_json_schema()), (
        "scenarios/scenario.schema.json is stale: run `grandrounds scenarios schema > scenarios/scenario.schema.json`"
    )
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    assert {"id", "facts", "conflicts", "rubric", "red_flags"} <= set(schema["properties"])

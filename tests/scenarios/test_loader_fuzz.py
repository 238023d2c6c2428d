"""Fuzzing the scenario loader: seeded mutants of the library files, each valid or refused in one line.

Every mutant must come back from `scenario_problems` as a scenario or as problems, each problem one
line (`file:line: field: message`), never a traceback, never over a second of CPU. The default run
makes 1,000 mutants (about 25 s on a shared 2-core machine); set GRANDROUNDS_FUZZ_MUTANTS=5000 for a
longer run, GRANDROUNDS_FUZZ_SOURCES=30 to mutate every library file, and GRANDROUNDS_FUZZ_SEED to
explore other seeds (the failing seed and mutant number are in the message).
"""

from __future__ import annotations

import os
import random
import time
from pathlib import Path

from scenarios.loader import library_dir, scenario_problems

MUTANTS = int(os.environ.get("GRANDROUNDS_FUZZ_MUTANTS", "1000"))
SEED = int(os.environ.get("GRANDROUNDS_FUZZ_SEED", "20261203"))
SOURCES = int(os.environ.get("GRANDROUNDS_FUZZ_SOURCES", "6"))  # how many library files to mutate (smallest first)
SECONDS_PER_MUTANT = 1.0

HOSTILE_VALUES = [
    "\x1b]0;pwned\x07", "\u202eevil", "\x00", "'", '"', "{", "[", "]", "}", ": x", "- -", "&a", "*a", "!!python/object:os.system",
    "!!binary aGk=", "!custom", "~", "null", "true", "1e309", "-1", "0", "99999999999999999999999", "nan", ".inf",
    "(a|aa)+$", "zq(a|aa)+$", "(?<!x", "(?P<n>", "[", "a{99999999999}", "\\", "((((((((((a))))))))))*",
    "x" * 5000, "<script>alert(1)</script>", "=HYPERLINK(\"x\")", "../../etc/passwd", "C:\\\\Windows", "\t", "\r",
    "2024-01-31", "0x1F", "0o17", "+1", "yes", "no", "on", "[1, [2, [3, [4]]]]", "{a: {b: {c: {d: 1}}}}",
]
KEYS = ["id", "title", "pattern", "facts", "conflicts", "options", "verdict", "visibility", "red_flags", "rubric", "points",
        "examples_match", "examples_no_match", "dimension", "patient", "age", "sex", "variant", "unknown_field", "<<"]


def _mutate(text: str, rng: random.Random) -> str:
    lines = text.split("\n")
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(11)
        i = rng.randrange(len(lines)) if lines else 0
        if not lines:
            lines = [""]
        if op == 0:  # delete a line
            del lines[i]
        elif op == 1:  # duplicate a line (duplicate keys, duplicate ids)
            lines.insert(i, lines[i])
        elif op == 2:  # swap two lines
            j = rng.randrange(len(lines))
            lines[i], lines[j] = lines[j], lines[i]
        elif op == 3:  # replace a value
            key, _, _ = lines[i].partition(":")
            lines[i] = f"{key}: {rng.choice(HOSTILE_VALUES)}"
        elif op == 4:  # insert a hostile key
            indent = len(lines[i]) - len(lines[i].lstrip())
            lines.insert(i, " " * indent + f"{rng.choice(KEYS)}: {rng.choice(HOSTILE_VALUES)}")
        elif op == 5:  # break the indentation
            lines[i] = " " * rng.randint(0, 7) + lines[i].lstrip()
        elif op == 6:  # flip bytes
            chars = list(lines[i]) or [" "]
            for _ in range(rng.randint(1, 3)):
                chars[rng.randrange(len(chars))] = chr(rng.choice([0, 7, 9, 27, 34, 39, 58, 91, 93, 123, 125, 0x202E, rng.randrange(32, 0x2FFF)]))
            lines[i] = "".join(chars)
        elif op == 7:  # cut the file
            lines = lines[: i + 1]
            lines[-1] = lines[-1][: rng.randrange(len(lines[-1]) + 1)]
        elif op == 8:  # an alias bomb or anchors
            lines.insert(0, "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]"
                         "\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\ne: [*d, *d, *d, *d, *d, *d, *d, *d, *d]")
        elif op == 9:  # a red-flag pattern that backtracks
            lines.insert(i, "    pattern: " + rng.choice(["'(a|aa)+$'", "'(x+x+)+y'", "'^(\\w+\\s?)*$'", "'(.*a){25}'", "'zq(a|aa)+$'"]))
        else:  # deep nesting
            lines.insert(i, "deep: " + "[" * rng.randint(10, 200) + "]" * rng.randint(0, 200))
    return "\n".join(lines)


def test_mutated_library_files_are_valid_or_refused_in_one_line(tmp_path: Path) -> None:
    # the smallest library files plus the test fixture: every field kind, at a price 1,000 mutants can pay
    library = sorted(library_dir().glob("*.yaml"), key=lambda p: p.stat().st_size)
    sources = library[:SOURCES] + [Path(__file__).parents[1] / "fixtures" / "minimal-case.yaml"]
    assert len(sources) > 1
    texts = {p.stem: p.read_text(encoding="utf-8") for p in sources}
    rng = random.Random(SEED)
    outcomes = {"valid": 0, "refused": 0}
    slowest = (0.0, -1)
    for n in range(MUTANTS):
        stem = rng.choice(sorted(texts))
        path = tmp_path / f"{stem}.yaml"
        data = _mutate(texts[stem], rng)
        if rng.random() < 0.05:  # now and then raw bytes, not text
            path.write_bytes(data.encode("utf-8", "surrogatepass")[: rng.randrange(1, 4000)] + bytes([rng.randrange(256)]))
        else:
            path.write_text(data, encoding="utf-8", errors="surrogatepass")
        started = time.process_time()  # CPU time: other processes on a shared machine do not count
        try:
            scenario, problems = scenario_problems(path)
        except Exception as exc:  # noqa: BLE001 - the point of the test
            raise AssertionError(f"mutant {n} (seed {SEED}) of {stem} raised {type(exc).__name__}: {exc}\n---\n{data[:3000]}") from exc
        elapsed = time.process_time() - started
        slowest = max(slowest, (elapsed, n))
        assert elapsed < SECONDS_PER_MUTANT, f"mutant {n} (seed {SEED}) of {stem} took {elapsed:.2f} s of CPU\n---\n{data[:3000]}"
        if scenario is not None:
            assert not problems
            outcomes["valid"] += 1
        else:
            assert problems, f"mutant {n}: refused without a reason"
            for problem in problems:
                line = str(problem)
                assert "\n" not in line and "Traceback" not in line, f"mutant {n} (seed {SEED}): {line!r}"
                assert line.startswith(str(path)), line
            outcomes["refused"] += 1
    assert outcomes["refused"] > MUTANTS // 4 and outcomes["valid"] > 0, outcomes  # the mutants did test both ways
    print(f"{MUTANTS} mutants: {outcomes}; slowest {slowest[0] * 1000:.0f} ms (mutant {slowest[1]})")

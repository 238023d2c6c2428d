"""`grandrounds scenarios import` and `grandrounds scenarios variants`: making new case files.

Both are standalone click commands, attached to the `scenarios` group in tui/cli/scenarios_cmd.py:

    from tui.cli.scenarios_tools import import_cmd, variants
    scenarios.add_command(import_cmd)   # registered as "import"
    scenarios.add_command(variants)
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from tui.cli.errors import UserError
from tui.safe_text import visible

ATTRIBUTE_NAMES = ("sex", "race", "insurance", "language", "disability")


def _source_names() -> list[str]:
    from scenarios.importers import IMPORTERS

    return sorted(IMPORTERS)


@click.command("import")
@click.argument("source", type=click.Choice(_source_names(), case_sensitive=False), metavar="SOURCE")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder for the scenario files (created if missing); one DIR/<id>.yaml per record.")
@click.option("--force", is_flag=True, help="Overwrite files that exist with different content.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary (written files, problems) on stdout.")
def import_cmd(source: str, file: Path, out_dir: Path, force: bool, as_json: bool) -> None:
    """Convert an external case collection into scenario files.

    SOURCE is the collection's format (agentclinic); FILE is its data file. A record that cannot be
    read or converted is reported as `file:line: what is wrong` and skipped; the others are still
    written. Exit status: 0 all records imported, 1 some records skipped, 2 bad arguments or the
    output files already exist (use --force).

    \b
    Example:
      grandrounds scenarios import agentclinic scenarios/external/agentclinic/agentclinic_medqa.jsonl --out imported/
      grandrounds scenarios validate imported/
    """
    from scenarios.importers import get_importer, import_file
    from scenarios.writer import OutputExistsError, write_scenarios

    if not file.exists():
        raise UserError(f"{file}: no such file")
    importer = get_importer(source.lower())
    try:
        result = import_file(importer, file)
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"{file}: cannot read: {exc}") from None
    if result.records == 0:
        raise UserError(f"{file}: no records found (is this a {importer.name} file? {importer.description})")

    def header(scenario) -> str:
        p = scenario.provenance
        return (f"Imported by `grandrounds scenarios import {importer.name}` from {file.name}, record {p.record}.\n"
                f"Source: {p.author}; license {p.license}.")

    try:
        report = write_scenarios([(s, header(s)) for s in result.scenarios], out_dir, force=force)
    except OutputExistsError as exc:
        raise UserError(f"{out_dir}: {exc}") from None
    except OSError as exc:
        raise UserError(f"{out_dir}: cannot write: {exc}") from None

    for problem in result.problems:
        click.echo(visible(problem, one_line=True), err=True)
    if as_json:
        click.echo(json.dumps({
            "source": importer.name,
            "file": str(file),
            "records": result.records,
            "imported": [s.id for s in result.scenarios],
            "written": [str(p) for p in report.written],
            "unchanged": [str(p) for p in report.unchanged],
            "problems": [str(p) for p in result.problems],
        }, indent=2))
    else:
        click.echo(
            f"imported {len(result.scenarios)} of {result.records} records from {file.name} into {out_dir}/ "
            f"({len(report.written)} written, {len(report.unchanged)} unchanged)"
            + (f"; {len(result.problems)} skipped, see above" if result.problems else "")
        )
    if result.problems:
        raise SystemExit(1)


def _parse_attributes(value: str) -> list[str]:
    names = [v.strip().lower() for v in value.split(",") if v.strip()]
    if not names:
        raise click.BadParameter("name at least one attribute, e.g. --vary sex,race")
    unknown = [n for n in names if n not in ATTRIBUTE_NAMES]
    if unknown:
        raise click.BadParameter(f"unknown attribute(s) {', '.join(unknown)}; choose from {', '.join(ATTRIBUTE_NAMES)}")
    return names


def _load(ref: str):
    from tui.cli.loading import load_case

    return load_case(ref)


@click.command("variants")
@click.argument("case", metavar="ID_OR_PATH")
@click.option("--vary", default=",".join(ATTRIBUTE_NAMES), show_default=True,
              help="Comma-separated patient attributes to vary: " + ", ".join(ATTRIBUTE_NAMES) + ".")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder for the family: the baseline and one file per variant.")
@click.option("--force", is_flag=True, help="Overwrite files that exist with different content.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary on stdout.")
def variants(case: str, vary: str, out_dir: Path, force: bool, as_json: bool) -> None:
    """Write counterfactual fairness variants of a case: the same case with one patient attribute changed.

    Each variant differs from the baseline only in that attribute (the patient mapping value and the
    narrative words that state it); conflicts, rubric, red flags and ground truth stay identical, so a
    batch over OUT compares like with like. Attributes in the case's fixed_attributes, or that cannot
    change without changing clinical content, are skipped with a reason.

    \b
    Example:
      grandrounds scenarios variants insulin-error-disclosure --vary sex,race,insurance --out variants/
      grandrounds batch variants/ --repeats 3
    """
    from scenarios.variants import generate_variants
    from scenarios.writer import OutputExistsError, write_scenarios

    attributes = _parse_attributes(vary)
    scenario = _load(case)
    try:
        family = generate_variants(scenario, attributes)
    except ValueError as exc:
        raise UserError(f"{case}: {exc}") from None

    items = [(family.baseline, f"Baseline of the fairness-variant family of {scenario.id} (generated).")]
    for v in family.variants:
        assert v.variant is not None
        items.append((v, f"Fairness variant of {scenario.id}: {v.variant.attribute} = {v.variant.value} (generated).\n"
                          "Only that attribute differs from the baseline; do not edit by hand, regenerate."))
    try:
        report = write_scenarios(items, out_dir, force=force)
    except OutputExistsError as exc:
        raise UserError(f"{out_dir}: {exc}") from None
    except OSError as exc:
        raise UserError(f"{out_dir}: cannot write: {exc}") from None

    if as_json:
        click.echo(json.dumps({
            "case": scenario.id,
            "baseline": family.baseline.id,
            "variants": [{"id": v.id, "attribute": v.variant.attribute, "value": v.variant.value}
                         for v in family.variants if v.variant],
            "skipped": [{"attribute": s.attribute, "value": s.value, "reason": s.reason} for s in family.skipped],
            "warnings": family.warnings,
            "written": [str(p) for p in report.written],
            "unchanged": [str(p) for p in report.unchanged],
        }, indent=2))
        return
    for s in family.skipped:
        click.echo(visible(s, one_line=True))
    for w in family.warnings:
        click.echo(visible(f"note: {w}", one_line=True))
    for v in family.variants:
        assert v.variant is not None
        click.echo(visible(f"{v.id}: {v.variant.attribute} = {v.variant.value}", one_line=True))
    click.echo(
        f"wrote the family of {scenario.id} to {out_dir}/: baseline + {len(family.variants)} variant(s) "
        f"({len(report.written)} written, {len(report.unchanged)} unchanged)"
    )

"""A comparison as Markdown (papers, READMEs), CSV (spreadsheets, R) or JSON (scripts).

The HTML report is in `transcripts.report_html`. All four read a `transcripts.compare.Comparison`.
"""

from __future__ import annotations

import csv
import io
import json

from transcripts.compare import CONFIDENCE, Comparison
from transcripts.report_numbers import fmt, pct, signed

__all__ = ["CSV_COLUMNS", "FORMATS", "render", "to_csv", "to_json", "to_markdown"]

FORMATS = ("md", "csv", "json", "html")
CSV_COLUMNS = (
    "group", "metric", "n", "mean", "ci_low", "ci_high",
    "baseline", "diff_vs_baseline", "diff_ci_low", "diff_ci_high", "n_pairs", "win_rate",
    "runs", "failure_rate", "cost_per_run_usd", "tokens_per_run", "consistency",
    "cost_per_point_usd", "tokens_per_point",
)


_f, _signed, _pct = fmt, signed, pct  # transcripts.report_numbers


def _ci(lo: float | None, hi: float | None, signed: bool = False) -> str:
    if lo is None or hi is None:
        return ""
    fmt = _signed if signed else _f
    return f" [{fmt(lo)}, {fmt(hi)}]"


def _cost(value: float | None) -> str:
    return "-" if value is None else f"${value:.4f}"


def _md_cell(text: str) -> str:
    """Text from transcripts in a Markdown cell: no table break, no raw HTML (`<script>` is shown, not run)."""
    text = str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\r", " ").replace("\n", " ")


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")


def _csv_text(value: str) -> str:
    """A text cell a spreadsheet will not run: one starting like a formula gets a leading `'` (OWASP)."""
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def to_markdown(c: Comparison) -> str:
    level = int(CONFIDENCE * 100)
    lines = [
        f"# Comparison by {_md_cell(c.by)}",
        "",
        f"{_md_cell(c.coverage())}; from `{_md_cell(c.source)}`; baseline **{_md_cell(c.baseline)}**. Means over scored runs with "
        f"bootstrap {level}% CIs ({c.resamples:,} resamples, seed {c.seed}); differences are paired by scenario and seed.",
        "",
        f"| {_md_cell(c.by)} | runs | overall ({level}% CI) | diff vs baseline ({level}% CI) | pairs | win rate | failure rate | cost/run | consistency |",
        "|---|---:|---|---|---:|---:|---:|---:|---:|",
    ]
    for g in c.groups:
        o = g.metrics["overall"]
        d = g.diffs.get("overall")
        diff = "(baseline)" if d is None else (_signed(d.mean) + _ci(d.lo, d.hi, True))
        lines.append(
            f"| {_md_cell(g.name)} | {g.runs} | {_f(o.mean)}{_ci(o.lo, o.hi)} | {diff} | {d.n_pairs if d else '-'} | "
            f"{_pct(d.win_rate) if d else '-'} | {_pct(g.failure_rate)} | {_cost(g.cost_per_run)} | {_f(g.consistency, 2)} |"
        )
    lines += ["", f"## Per dimension: mean [{level}% CI]", ""]
    dims = [m for m in c.metrics if m != "overall"]
    lines.append(f"| {_md_cell(c.by)} | " + " | ".join(dims) + " |")
    lines.append("|---|" + "---|" * len(dims))
    for g in c.groups:
        cells = [(_f(g.metrics[m].mean) + _ci(g.metrics[m].lo, g.metrics[m].hi)) if g.metrics[m].n else "not assessed" for m in dims]
        lines.append(f"| {_md_cell(g.name)} | " + " | ".join(cells) + " |")
    others = [g for g in c.groups if g.name != c.baseline]
    if others:
        lines += ["", f"## Paired difference vs {_md_cell(c.baseline)} [{level}% CI]", ""]
        lines.append(f"| {_md_cell(c.by)} | " + " | ".join(c.metrics) + " |")
        lines.append("|---|" + "---|" * len(c.metrics))
        for g in others:
            cells = [(_signed(g.diffs[m].mean) + _ci(g.diffs[m].lo, g.diffs[m].hi, True)) if g.diffs[m].n_pairs else "-" for m in c.metrics]
            lines.append(f"| {_md_cell(g.name)} | " + " | ".join(cells) + " |")
    if others:
        lines += ["", f"## Cost against {_md_cell(c.baseline)}", ""]
        lines += [f"| {c.by} | tokens/run | cost/run | extra tokens/run | extra cost/run | overall gain | tokens per point | cost per point |"]
        lines += ["|---|---:|---:|---:|---:|---:|---:|---:|"]
        for g in c.groups:
            d = g.diffs.get("overall")
            gain = "(baseline)" if d is None else _signed(d.mean)
            per_point = "-" if d is None else ("no gain" if g.tokens_per_point is None else _f(g.tokens_per_point, 0))
            cost_point = "-" if d is None else ("no gain" if g.cost_per_point is None else _cost(g.cost_per_point))
            lines.append(
                f"| {_md_cell(g.name)} | {_f(g.tokens_per_run, 0)} | {_cost(g.cost_per_run)} | "
                f"{'-' if d is None else _signed(g.extra_tokens_per_run, 0)} | {'-' if d is None or g.extra_cost_per_run is None else _cost(g.extra_cost_per_run)} | "
                f"{gain} | {per_point} | {cost_point} |"
            )
    if c.has_variants:
        lines += ["", "## Fairness variants", "", "Share of (family, seed, conflict) whose chosen option is the same across the family's variants.", ""]
        lines += [f"| {_md_cell(c.by)} | consistency | n |", "|---|---:|---:|"]
        for g in c.groups:
            lines.append(f"| {_md_cell(g.name)} | {_f(g.consistency, 2)} | {g.consistency_n} |")
    if c.problems:
        lines += ["", f"{len(c.problems)} file(s) could not be read; first: {_md_cell(c.problems[0])}"]
    return "\n".join(lines) + "\n"


def to_csv(c: Comparison) -> str:
    """One row per group and metric (overall and the six dimensions), tidy for pandas / R."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for g in c.groups:
        for m in c.metrics:
            e = g.metrics[m]
            d = g.diffs.get(m)
            writer.writerow([
                _csv_text(g.name), m, e.n, _num(e.mean), _num(e.lo), _num(e.hi),
                _csv_text(c.baseline), _num(d.mean) if d else "", _num(d.lo) if d else "", _num(d.hi) if d else "",
                d.n_pairs if d else "", _num(d.win_rate) if d and m == "overall" else "",
                g.runs, _num(g.failure_rate), _num(g.cost_per_run, 6), _num(g.tokens_per_run, 1), _num(g.consistency),
                _num(g.cost_per_point, 6) if m == "overall" else "", _num(g.tokens_per_point, 1) if m == "overall" else "",
            ])
    return buf.getvalue()


def _num(value: float | None, digits: int = 4) -> str:
    return "" if value is None else f"{round(value, digits)}"


def to_json(c: Comparison) -> str:
    return json.dumps(c.to_json(), indent=2, ensure_ascii=False) + "\n"


def render(c: Comparison, fmt: str) -> str:
    if fmt == "md":
        return to_markdown(c)
    if fmt == "csv":
        return to_csv(c)
    if fmt == "json":
        return to_json(c)
    if fmt == "html":
        from transcripts.report_html import to_html

        return to_html(c)
    raise ValueError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")

"""A comparison as one self-contained HTML file: inline CSS and SVG, no scripts, no external assets.

Every piece of text that came from transcripts (group names, scenario ids and titles, problems) goes
through `html.escape`, so a scenario titled `<script>...` is shown, never run.
"""

from __future__ import annotations

from html import escape

from transcripts.compare import CONFIDENCE, Comparison, GroupStats
from transcripts.report_numbers import fmt, pct, signed

__all__ = ["to_html"]

PALETTE = ("#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3", "#937860", "#da8bc3", "#8c8c8c", "#ccb974", "#64b5cd")

CSS = """
body{font:14px/1.45 -apple-system,Segoe UI,Helvetica,Arial,sans-serif;color:#222;margin:24px auto;max-width:1140px;padding:0 16px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #ddd;padding-bottom:4px}
.note{color:#555;margin:4px 0 12px}
table{border-collapse:collapse;margin:8px 0;font-size:13px}
th,td{border:1px solid #ddd;padding:4px 8px;text-align:right;vertical-align:top}
th:first-child,td:first-child{text-align:left}
th{background:#f5f5f5}
td.base{color:#777;font-style:italic}
.pos{color:#1a7f37}.neg{color:#b42318}
.ci{color:#777;font-size:12px}
.legend span{display:inline-block;margin-right:16px}
.legend i{display:inline-block;width:12px;height:12px;margin-right:4px;vertical-align:-1px}
svg text{font:12px -apple-system,Segoe UI,Helvetica,Arial,sans-serif;fill:#333}
"""


_f, _signed, _pct = fmt, signed, pct  # transcripts.report_numbers


def _color(i: int) -> str:
    return PALETTE[i % len(PALETTE)]


def _legend(groups: list[GroupStats]) -> str:
    items = "".join(f'<span><i style="background:{_color(i)}"></i>{escape(g.name)}</span>' for i, g in enumerate(groups))
    return f'<p class="legend">{items}</p>'


def _bars_svg(c: Comparison) -> str:
    """Grouped bars (mean per metric per group, 0-100) with CI whiskers."""
    groups = c.groups
    metrics = list(c.metrics)
    width, height = 1100, 330
    left, right, top, bottom = 44, 10, 14, 46
    plot_w, plot_h = width - left - right, height - top - bottom
    slot = plot_w / len(metrics)
    bar_w = min(34.0, (slot - 16) / max(1, len(groups)))

    def y(v: float) -> float:
        return top + plot_h * (1 - max(0.0, min(100.0, v)) / 100.0)

    parts = [f'<svg width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" aria-label="Mean score per dimension with {int(CONFIDENCE * 100)}% CI">']
    for tick in range(0, 101, 20):
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{y(tick):.1f}" y2="{y(tick):.1f}" stroke="#eee"/>')
        parts.append(f'<text x="{left - 6}" y="{y(tick) + 4:.1f}" text-anchor="end">{tick}</text>')
    for mi, metric in enumerate(metrics):
        x0 = left + mi * slot + (slot - bar_w * len(groups)) / 2
        for gi, g in enumerate(groups):
            e = g.metrics[metric]
            x = x0 + gi * bar_w
            title = f"{g.name} / {metric}: " + ("not assessed" if e.mean is None else f"{e.mean:.1f} [{e.lo:.1f}, {e.hi:.1f}], n={e.n}")
            if e.mean is None:
                parts.append(f'<text x="{x + bar_w / 2:.1f}" y="{y(0) - 4:.1f}" text-anchor="middle" fill="#999">n/a</text>')
                continue
            parts.append(
                f'<rect x="{x + 1:.1f}" y="{y(e.mean):.1f}" width="{bar_w - 2:.1f}" height="{y(0) - y(e.mean):.1f}" '
                f'fill="{_color(gi)}"><title>{escape(title)}</title></rect>'
            )
            if e.lo is not None and e.hi is not None:
                cx = x + bar_w / 2
                parts.append(f'<line x1="{cx:.1f}" x2="{cx:.1f}" y1="{y(e.lo):.1f}" y2="{y(e.hi):.1f}" stroke="#222" stroke-width="1.5"/>')
                for v in (e.lo, e.hi):
                    parts.append(f'<line x1="{cx - 5:.1f}" x2="{cx + 5:.1f}" y1="{y(v):.1f}" y2="{y(v):.1f}" stroke="#222" stroke-width="1.5"/>')
        parts.append(f'<text x="{left + mi * slot + slot / 2:.1f}" y="{height - bottom + 18}" text-anchor="middle">{escape(metric)}</text>')
    parts.append(f'<line x1="{left}" x2="{width - right}" y1="{y(0):.1f}" y2="{y(0):.1f}" stroke="#999"/>')
    parts.append("</svg>")
    return "".join(parts)


def _diff_svg(c: Comparison) -> str:
    """Forest plot: per metric and non-baseline group, the paired difference and its CI around 0."""
    others = [(i, g) for i, g in enumerate(c.groups) if g.name != c.baseline]
    rows = [(metric, i, g) for metric in c.metrics for i, g in others]
    span = 5.0
    for metric, _, g in rows:
        d = g.diffs[metric]
        for v in (d.lo, d.hi, d.mean):
            if v is not None:
                span = max(span, abs(v))
    span = min(100.0, span * 1.1)
    row_h = 22
    width = 1100
    label_w = 250
    top, bottom = 10, 34
    height = top + bottom + row_h * max(1, len(rows))
    plot_l, plot_r = label_w, width - 20

    def x(v: float) -> float:
        return plot_l + (v + span) / (2 * span) * (plot_r - plot_l)

    parts = [f'<svg width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" aria-label="Paired differences against the baseline">']
    for k in (-1.0, -0.5, 0.0, 0.5, 1.0):
        v = k * span
        parts.append(f'<line x1="{x(v):.1f}" x2="{x(v):.1f}" y1="{top}" y2="{height - bottom}" stroke="{"#999" if k == 0 else "#eee"}"/>')
        parts.append(f'<text x="{x(v):.1f}" y="{height - bottom + 16}" text-anchor="middle">{v:+.1f}</text>')
    for r, (metric, gi, g) in enumerate(rows):
        cy = top + r * row_h + row_h / 2
        d = g.diffs[metric]
        label = f"{metric}: {g.name}"
        parts.append(f'<text x="{plot_l - 8}" y="{cy + 4:.1f}" text-anchor="end">{escape(label)}</text>')
        if d.mean is None or d.lo is None or d.hi is None:
            parts.append(f'<text x="{x(0) + 6:.1f}" y="{cy + 4:.1f}" fill="#999">no pairs</text>')
            continue
        title = f"{g.name} - {c.baseline} on {metric}: {d.mean:+.2f} [{d.lo:+.2f}, {d.hi:+.2f}], {d.n_pairs} pairs"
        parts.append(f'<line x1="{x(d.lo):.1f}" x2="{x(d.hi):.1f}" y1="{cy:.1f}" y2="{cy:.1f}" stroke="{_color(gi)}" stroke-width="2.5"/>')
        parts.append(f'<circle cx="{x(d.mean):.1f}" cy="{cy:.1f}" r="5" fill="{_color(gi)}"><title>{escape(title)}</title></circle>')
    parts.append("</svg>")
    return "".join(parts)


def _per_point(g, value, fmt) -> str:
    """Extra tokens or cost per overall point gained against the baseline ('no gain' without one)."""
    if not g.diffs:
        return "-"
    return "no gain" if value is None else escape(fmt(value))


def _summary_table(c: Comparison) -> str:
    level = int(CONFIDENCE * 100)
    head = (
        f"<tr><th>{escape(c.by)}</th><th>runs</th><th>scored</th><th>overall</th><th>{level}% CI</th><th>diff vs baseline</th>"
        f"<th>{level}% CI</th><th>pairs</th><th>win rate</th><th>failure rate</th><th>cost/run</th><th>tokens/run</th><th>judge cost/run</th>"
        "<th>tokens per point gained</th><th>cost per point gained</th></tr>"
    )
    rows = []
    for g in c.groups:
        o = g.metrics["overall"]
        d = g.diffs.get("overall")
        if d is None:
            diff_cells = '<td class="base">baseline</td><td></td><td></td><td></td>'
        else:
            cls = "pos" if (d.lo or 0) > 0 else "neg" if (d.hi or 0) < 0 else ""
            diff_cells = (
                f'<td class="{cls}">{_signed(d.mean)}</td><td class="ci">[{_signed(d.lo)}, {_signed(d.hi)}]</td>'
                f"<td>{d.n_pairs}</td><td>{_pct(d.win_rate)} <span class=\"ci\">({d.wins}/{d.ties}/{d.losses})</span></td>"
            )
        rows.append(
            f"<tr><td>{escape(g.name)}</td><td>{g.runs}</td><td>{g.scored}</td><td>{_f(o.mean)}</td>"
            f'<td class="ci">[{_f(o.lo)}, {_f(o.hi)}]</td>{diff_cells}<td>{_pct(g.failure_rate)}</td>'
            f"<td>{'-' if g.cost_per_run is None else f'${g.cost_per_run:.4f}'}</td><td>{_f(g.tokens_per_run, 0)}</td>"
            f"<td>{'-' if g.judge_cost_per_run is None else f'${g.judge_cost_per_run:.4f}'}</td>"
            f"<td>{_per_point(g, g.tokens_per_point, lambda v: _f(v, 0))}</td>"
            f"<td>{_per_point(g, g.cost_per_point, lambda v: f'${v:.4f}')}</td></tr>"
        )
    return f"<table>{head}{''.join(rows)}</table>"


def _dimension_table(c: Comparison) -> str:
    head = f"<tr><th>{escape(c.by)}</th>" + "".join(f"<th>{escape(m)}</th>" for m in c.metrics) + "</tr>"
    rows = []
    for g in c.groups:
        cells = []
        for m in c.metrics:
            e = g.metrics[m]
            cells.append("<td>not assessed</td>" if e.mean is None else f'<td>{_f(e.mean)} <span class="ci">[{_f(e.lo)}, {_f(e.hi)}] n={e.n}</span></td>')
        rows.append(f"<tr><td>{escape(g.name)}</td>{''.join(cells)}</tr>")
        if g.diffs:
            diff_cells = []
            for m in c.metrics:
                d = g.diffs[m]
                if d.mean is None:
                    diff_cells.append("<td>-</td>")
                else:
                    cls = "pos" if (d.lo or 0) > 0 else "neg" if (d.hi or 0) < 0 else ""
                    diff_cells.append(f'<td class="{cls}">{_signed(d.mean)} <span class="ci">[{_signed(d.lo)}, {_signed(d.hi)}]</span></td>')
            rows.append(f'<tr><td class="base">&nbsp;&nbsp;diff vs {escape(c.baseline)}</td>{"".join(diff_cells)}</tr>')
    return f"<table>{head}{''.join(rows)}</table>"


def _consistency_table(c: Comparison) -> str:
    rows = "".join(f"<tr><td>{escape(g.name)}</td><td>{_f(g.consistency, 2)}</td><td>{g.consistency_n}</td></tr>" for g in c.groups)
    return f"<table><tr><th>{escape(c.by)}</th><th>consistency</th><th>family x seed x conflict</th></tr>{rows}</table>"


def _scenario_table(c: Comparison) -> str:
    names = [g.name for g in c.groups]
    head = "<tr><th>scenario</th>" + "".join(f"<th>{escape(n)}</th>" for n in names) + "</tr>"
    rows = []
    for sid, means in c.by_scenario.items():
        title = c.scenario_titles.get(sid, "")
        cells = "".join(f"<td>{_f(means.get(n))}</td>" for n in names)
        rows.append(f'<tr><td><b>{escape(sid)}</b><br><span class="ci">{escape(title)}</span></td>{cells}</tr>')
    return f"<table>{head}{''.join(rows)}</table>"


def to_html(c: Comparison) -> str:
    level = int(CONFIDENCE * 100)
    groups = c.groups
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>grandrounds comparison by {escape(c.by)}</title>",
        f"<style>{CSS}</style></head><body>",
        f"<h1>Comparison by {escape(c.by)}</h1>",
        f'<p class="note">{escape(c.coverage())}; from <code>{escape(c.source)}</code>; baseline <b>{escape(c.baseline)}</b>. '
        f"Means over scored runs with bootstrap {level}% confidence intervals (percentile, {c.resamples:,} resamples, seed {c.seed}); "
        "differences are paired by scenario and seed; win rate = share of pairs where the group's overall score is higher "
        "(wins/ties/losses in brackets).</p>",
        "<h2>Summary</h2>",
        _summary_table(c),
        f"<h2>Mean score per dimension, with {level}% CI</h2>",
        _legend(groups),
        _bars_svg(c),
    ]
    if len(groups) > 1:
        parts += [f"<h2>Paired difference against {escape(c.baseline)}, with {level}% CI</h2>", _diff_svg(c)]
    parts += ["<h2>Per dimension</h2>", _dimension_table(c)]
    if c.has_variants:
        parts += [
            "<h2>Fairness variants</h2>",
            '<p class="note">Share of (family, seed, conflict) whose chosen option is the same in every variant of the family. '
            "1.00 means the patient attribute varied never changed the council's choice.</p>",
            _consistency_table(c),
        ]
    if c.by_scenario:
        parts += ["<h2>Overall score per scenario</h2>", _scenario_table(c)]
    if c.problems:
        items = "".join(f"<li>{escape(p)}</li>" for p in c.problems[:20])
        parts += [f"<h2>Unreadable files ({len(c.problems)})</h2><ul>{items}</ul>"]
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"

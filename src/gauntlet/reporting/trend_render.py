"""A trend as a terminal table and as a small HTML page.

Both show the same rows from the same ``Trend``: one row per measurement,
one column per run (oldest first), the bound, and the judgement of the
newest value, so the terminal and the report never disagree.
"""

from __future__ import annotations

import html
from collections import Counter

from gauntlet.reporting.trend import Series, Trend

__all__ = ["fit", "format_value", "render_html", "render_text"]

_GID_W, _NAME_W, _UNIT_W, _BOUND_W, _VALUE_W = 9, 36, 10, 7, 8


def format_value(value: float | None) -> str:
    """Short and aligned: ``1.23``, ``110``, ``4096``; ``failed``."""
    if value is None:
        return "failed"
    if abs(value) >= 1000:
        return f"{value:.0f}"
    return f"{value:.3g}"


def render_text(trend: Trend) -> str:
    """The trend as a fixed-width table with a legend of the runs."""
    lines = [
        f"trend of {_scope(trend)}: last {len(trend.runs)} run(s), oldest "
        f"first; regression: newest value worse than the median of the "
        f"previous runs by more than {trend.margin:.0%}",
    ]
    for number, run in enumerate(trend.runs, start=1):
        lines.append(
            f"  #{number:<2} {run.run_id}  {run.profile or '-':<11} "
            f"{run.started}"
        )
    columns = [f"#{n}".rjust(_VALUE_W) for n in range(1, len(trend.runs) + 1)]
    lines.append(
        _row("GUARANTEE", "MEASUREMENT", "UNIT", "BOUND", columns, "JUDGEMENT")
    )
    for series in trend.series:
        cells = _cells(trend, series)
        status = series.judgement.status
        lines.append(
            _row(
                series.guarantee,
                series.name,
                series.unit,
                _bound(series),
                [c.rjust(_VALUE_W) for c in cells],
                "REGRESSION" if status == "regression" else status,
            )
        )
    lines.append(_totals(trend))
    return "\n".join(line.rstrip() for line in lines) + "\n"


def render_html(trend: Trend) -> str:
    """A self-contained page (no scripts, no network) for the report."""
    esc = html.escape
    runs = "".join(
        f"<li>#{n} <code>{esc(r.run_id)}</code> {esc(r.profile or '-')} "
        f"{esc(r.started)}</li>"
        for n, r in enumerate(trend.runs, start=1)
    )
    head = "".join(f"<th>#{n}</th>" for n in range(1, len(trend.runs) + 1))
    rows = []
    for series in trend.series:
        status = series.judgement.status
        cells = "".join(
            f'<td class="num">{esc(c)}</td>' for c in _cells(trend, series)
        )
        css = ' class="regression"' if status == "regression" else ""
        rows.append(
            f"<tr{css}><td>{esc(series.guarantee)}</td>"
            f"<td>{esc(series.name)}</td><td>{esc(series.unit)}</td>"
            f'<td class="num">{esc(_bound(series))}</td>{cells}'
            f'<td title="{esc(series.judgement.detail)}">{esc(status)}</td>'
            "</tr>"
        )
    return _PAGE.format(
        context=esc(_scope(trend)),
        margin=f"{trend.margin:.0%}",
        totals=esc(_totals(trend)),
        runs=runs,
        head=head,
        rows="\n".join(rows),
    )


def _scope(trend: Trend) -> str:
    profile = f", profile {trend.profile}" if trend.profile else ""
    return f"{trend.context}{profile}"


def _cells(trend: Trend, series: Series) -> list[str]:
    """One cell per run of the window; ``-`` where not measured."""
    by_run = {p.run_id: p.value for p in series.points}
    return [
        format_value(by_run[r.run_id]) if r.run_id in by_run else "-"
        for r in trend.runs
    ]


def _bound(series: Series) -> str:
    return "" if series.bound is None else format_value(series.bound)


def _totals(trend: Trend) -> str:
    counts = Counter(s.judgement.status for s in trend.series)
    parts = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
    return f"{len(trend.series)} measurement(s): {parts or 'none'}"


def fit(text: str, width: int) -> str:
    """Cut in the middle, so ``(certificates)`` and ``(credentials)``
    stay apart when a long name is shortened."""
    if len(text) <= width:
        return text.ljust(width)
    head = (width - 1) // 2
    tail = width - 1 - head
    return f"{text[:head]}~{text[-tail:]}"


def _row(
    gid: str,
    name: str,
    unit: str,
    bound: str,
    values: list[str],
    judgement: str,
) -> str:
    return " ".join(
        (
            fit(gid, _GID_W),
            fit(name, _NAME_W),
            fit(unit, _UNIT_W),
            bound.rjust(_BOUND_W),
            *values,
            " " + judgement,
        )
    )


_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>kube-gauntlet trend: {context}</title>
<style>
body {{ font-family: sans-serif; margin: 1.5em; }}
table {{ border-collapse: collapse; font-size: 0.9em; }}
th, td {{ border: 1px solid #ccc; padding: 0.2em 0.5em; }}
td.num {{ text-align: right; font-variant-numeric: tabular-nums; }}
tr.regression {{ background: #fde2e1; font-weight: bold; }}
</style></head><body>
<h1>Trend of {context}</h1>
<p>The newest run is judged against the median of the runs before it: a
value worse by more than {margin} (and by more than a small absolute floor)
is a regression. Larger is worse for values with an upper bound and for
durations. Hover a judgement for its numbers.</p>
<ol style="list-style: none; padding: 0">{runs}</ol>
<table><thead><tr><th>guarantee</th><th>measurement</th><th>unit</th>
<th>bound</th>{head}<th>judgement</th></tr></thead>
<tbody>
{rows}
</tbody></table>
<p>{totals}</p>
</body></html>
"""

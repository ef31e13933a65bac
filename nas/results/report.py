"""A self-contained HTML report of a study, and a PNG of its Pareto chart.

The HTML inlines plotly.js (``include_plotlyjs=True``), so it opens from disk with no server and no
network. After the chart renders, a small script records the number of drawn points per trace in the
chart wrapper's ``data-render-check`` attribute (JSON), so a headless browser can verify the page;
an attribute is never shown, so the page has no test text in it. The PNG is drawn with
matplotlib (Agg) for papers and READMEs.
"""

from __future__ import annotations

import dataclasses
import html
import json
import logging
import math
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from nas.record.points import OBJECTIVES, ModelPoint, study_device
from nas.results.compare import ReferenceComparison, side_by_side_rows, summary_lines
from nas.results.front import pareto_front, summarize_front
from nas.results.references import cached_comparisons
from nas.results.study import StudyResults

logger = logging.getLogger(__name__)

CHART_DIV_ID = "pareto-chart"
TRACE_TRIALS = "trials"
TRACE_FRONT = "accuracy-latency front"
TRACE_MOBILENET_TRIALS = "MobileNetV2 (study trial)"
TRACE_REFERENCES = "reference grid"

_RENDER_CHECK = """
var gd = document.getElementById('{plot_id}');
var counts = {};
gd.querySelectorAll('g.trace.scatter').forEach(function (trace, i) {
  var name = (gd.data[i] && gd.data[i].name) || ('trace ' + i);
  counts[name] = trace.querySelectorAll('path.point').length;
});
document.getElementById('pareto-wrap').dataset.renderCheck =
  JSON.stringify({rendered: true, points: counts, errors: window.reportErrors});
"""

_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em; color: #222; }}
table {{ border-collapse: collapse; font-size: 0.85em; margin: 1em 0; }}
th, td {{ border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; }}
th {{ background: #f0f0f0; }}
td.text {{ text-align: left; font-family: monospace; }}
tr.front td {{ background: #eef7ee; }}
tr.reference td {{ background: #fff4e5; }}
#pareto-wrap {{ height: 560px; max-width: 1100px; }}
</style>
<script>
window.reportErrors = [];
window.addEventListener('error', function (e) {{ window.reportErrors.push(String(e.message)); }});
</script>
</head>
<body>
<h1>{title}</h1>
<p>{subtitle}</p>
{notes}
<h2>Device</h2>
{device}
<h2>Accuracy vs latency</h2>
<p>Int8 validation accuracy against median int8 latency; marker area grows with the int8 model size.
Green markers are on the Pareto front of all objectives, grey ones violate a constraint; the dotted
line is the accuracy-latency front. Hover a point for its architecture and metrics.</p>
<div id="pareto-wrap" data-render-check="">{chart}</div>
{summary}
<h2>Comparison with reference architectures</h2>
{comparison}
<h2>Trials</h2>
{trials}
<p><small>Generated {generated} by nas report.</small></p>
</body>
</html>
"""


def _fmt(value: Any, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _html_table(rows: Sequence[Mapping[str, Any]], text_columns: set[str], row_class=None) -> str:
    if not rows:
        return "<p>None.</p>"
    columns = list(rows[0])
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = []
    for row in rows:
        css = f' class="{row_class(row)}"' if row_class and row_class(row) else ""
        cells = "".join(
            f'<td class="text">{html.escape(_fmt(row.get(c)))}</td>'
            if c in text_columns
            else f"<td>{html.escape(_fmt(row.get(c)))}</td>"
            for c in columns
        )
        body.append(f"<tr{css}>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


@dataclasses.dataclass(frozen=True)
class TrialRow:
    """One trial of the report's table (``size_kib``: the int8 file in KiB)."""

    trial: int | None
    on_front: bool
    accuracy_int8: float | None
    latency_ms_p50: float | None
    size_kib: float | None
    params: int | None
    macs: int | None
    feasible: bool
    baseline: str
    architecture: str


def trial_rows(points: Sequence[ModelPoint], front: Sequence[ModelPoint]) -> list[TrialRow]:
    """Table rows for every trial, in trial order, with an on-front flag."""
    return [
        TrialRow(trial=p.trial_number, on_front=p in front, accuracy_int8=p.accuracy, latency_ms_p50=p.latency_ms_p50,
                 size_kib=None if p.size_bytes is None else p.size_bytes / 1024, params=p.params, macs=p.macs,
                 feasible=p.feasible, baseline=p.baseline or "", architecture=p.architecture)
        for p in sorted(points, key=lambda p: (p.trial_number is None, p.trial_number or 0, p.label))
    ]


def plotted_points(points: Sequence[ModelPoint]) -> list[ModelPoint]:
    """The trials the chart draws: every one with accuracy, latency and size."""
    return [p for p in points if p.has_metrics(OBJECTIVES)]


def accuracy_latency_front(points: Sequence[ModelPoint]) -> list[ModelPoint]:
    """The feasible points no other beats on accuracy and latency alone, fastest first: the line
    drawn on the 2-D chart (the coloured front uses all objectives, size included)."""
    two_d = {name: OBJECTIVES[name] for name in ("accuracy", "latency_ms_p50")}
    return sorted(pareto_front(points, two_d), key=lambda p: (p.latency_ms_p50, -p.accuracy))


def _hover(p: ModelPoint) -> str:
    name = p.label if p.trial_number is None else f"trial {p.trial_number}"
    if p.baseline:
        name += f" ({p.baseline})"
    return (
        f"<b>{html.escape(name)}</b><br>{html.escape(p.architecture)}<br>"
        f"accuracy {100 * p.accuracy:.2f} %<br>latency p50 {p.latency_ms_p50:.3f} ms<br>"
        f"size {p.size_bytes / 1024:.1f} KiB<br>params {_fmt(p.params)}<br>MACs {_fmt(p.macs)}"
        + ("" if p.feasible else "<br>violates a constraint")
    )


def _marker_sizes(ps: Sequence[ModelPoint], top: float) -> list[float]:
    """Marker diameters: the area grows with the int8 size, relative to the largest ``top``."""
    return [max(7.0, 34.0 * math.sqrt(p.size_bytes / top)) for p in ps]


def _scatter(name: str, ps: Sequence[ModelPoint], **style: Any):
    import plotly.graph_objects as go

    return go.Scatter(name=name, x=[p.latency_ms_p50 for p in ps], y=[p.accuracy for p in ps], **style)


def _trial_traces(drawn: Sequence[ModelPoint], front: Sequence[ModelPoint], top: float) -> list[Any]:
    """The trials (coloured by front / constraint) and the accuracy-latency front as a step line."""
    colors = ["#2a9d8f" if p in front else ("#bbbbbb" if not p.feasible else "#6c8ebf") for p in drawn]
    return [
        _scatter(TRACE_TRIALS, drawn, mode="markers",
                 marker={"size": _marker_sizes(drawn, top), "color": colors,
                         "line": {"width": 1, "color": "#333"}, "opacity": 0.85},
                 hovertext=[_hover(p) for p in drawn], hoverinfo="text"),
        _scatter(TRACE_FRONT, accuracy_latency_front(drawn), mode="lines",
                 line={"shape": "hv", "color": "#2a9d8f", "dash": "dot"}, hoverinfo="skip"),
    ]


def _reference_traces(drawn: Sequence[ModelPoint], references: Sequence[ModelPoint], top: float) -> list[Any]:
    """The study's MobileNetV2 trials as stars, the reference grid as diamonds."""
    traces = []
    mobilenets = [p for p in drawn if p.is_mobilenet_v2]
    if mobilenets:
        traces.append(_scatter(
            TRACE_MOBILENET_TRIALS, mobilenets, mode="markers+text", text=[p.baseline for p in mobilenets],
            textposition="top center",
            marker={"symbol": "star", "size": 16, "color": "#e76f51", "line": {"width": 1, "color": "#333"}},
            hovertext=[_hover(p) for p in mobilenets], hoverinfo="text"))
    # a reference the study evaluated itself (its MobileNetV2 trial) is already drawn as a star
    own = {p.architecture for p in drawn}
    refs = [p for p in references if p.has_metrics(OBJECTIVES) and p.architecture not in own]
    if refs:
        traces.append(_scatter(
            TRACE_REFERENCES, refs, mode="markers+text", text=[p.label for p in refs], textposition="bottom center",
            marker={"symbol": "diamond", "size": _marker_sizes(refs, top), "color": "#f4a261", "line": {"width": 1}},
            hovertext=[_hover(p) for p in refs], hoverinfo="text"))
    return traces


def build_figure(
    points: Sequence[ModelPoint],
    references: Sequence[ModelPoint] = (),
    objectives: Mapping[str, str] = OBJECTIVES,
):
    """The interactive Pareto chart (plotly ``Figure``): one marker per trial in the ``trials``
    trace; the front as a step line; MobileNetV2 trials and reference-grid points marked."""
    import plotly.graph_objects as go

    drawn = plotted_points(points)
    front = pareto_front(drawn, objectives)
    all_sizes = [float(p.size_bytes) for p in (*drawn, *references) if p.size_bytes is not None]
    top = max(all_sizes, default=1.0)
    fig = go.Figure()
    for trace in (*_trial_traces(drawn, front, top), *_reference_traces(drawn, references, top)):
        fig.add_trace(trace)
    fig.update_layout(
        xaxis_title="int8 latency p50 (ms)",
        yaxis_title="int8 validation accuracy",
        yaxis_tickformat=".3~%",
        legend={"orientation": "h", "y": -0.15},
        margin={"l": 60, "r": 20, "t": 30, "b": 60},
        template="plotly_white",
    )
    return fig


def _xnnpack_row(points: Sequence[ModelPoint]) -> dict[str, str]:
    """The device section's ``xnnpack_applied`` line: whether XNNPACK ran in the trials'
    measurements (the profiler's ``xnnpack_applied``), empty when none recorded it."""
    known = [p.xnnpack_applied for p in points if p.xnnpack_applied is not None]
    if not known:
        return {}
    off = sum(1 for value in known if not value)
    text = (f"yes, in all {len(known)} measured trials" if not off else
            f"NO in {off} of {len(known)} measured trials: their latencies are the built-in kernels'")
    return {"xnnpack_applied": text}


def _device_html(device: Mapping[str, Any] | None) -> str:
    if not device:
        return "<p>No device description recorded.</p>"
    items = "".join(
        f"<tr><th>{html.escape(str(k))}</th>"
        f"<td class=\"text\">{html.escape(json.dumps(v) if isinstance(v, (dict, list)) else str(v))}</td></tr>"
        for k, v in device.items()
    )
    return f"<table>{items}</table>"


def build_html(
    points: Sequence[ModelPoint],
    *,
    title: str,
    device: Mapping[str, Any] | None = None,
    comparisons: Sequence[ReferenceComparison] = (),
    summary_lines: Sequence[str] = (),
    objectives: Mapping[str, str] = OBJECTIVES,
    notes: Sequence[str] = (),
) -> str:
    """The whole report page as one string (plotly.js inlined)."""
    import plotly.io as pio

    references = [c.reference for c in comparisons]
    fig = build_figure(points, references, objectives)
    chart = pio.to_html(
        fig,
        include_plotlyjs=True,
        include_mathjax=False,
        full_html=False,
        div_id=CHART_DIV_ID,
        post_script=_RENDER_CHECK,
        config={"displaylogo": False, "responsive": True},
    )
    front = pareto_front(plotted_points(points), objectives)
    rows = [dataclasses.asdict(row) for row in trial_rows(points, front)]
    trials_html = _html_table(
        rows, {"architecture", "baseline"}, lambda r: "front" if r["on_front"] else ""
    )
    if comparisons:
        discovered = [p for p in front if not p.baseline]
        comparison_html = _html_table(
            [{k: v for k, v in row.to_dict().items() if k != "architecture"}
             for row in side_by_side_rows(discovered, comparisons)],
            {"kind", "model", "architecture", "dominates", "dominated_by", "speedup_at_equal_accuracy",
             "accuracy_gain_at_equal_latency"},
            lambda r: "reference" if r["kind"] == "reference" else "front",
        )
    else:
        comparison_html = "<p>No comparison recorded: run <code>nas compare</code> first.</p>"
    summary = "".join(f"<li>{html.escape(line)}</li>" for line in summary_lines)
    n_done = len(plotted_points(points))
    return _PAGE.format(
        title=html.escape(title),
        subtitle=html.escape(
            f"{n_done} evaluated trials of {len(points)}, {len(front)} on the Pareto front "
            f"({', '.join(f'{k} {v}' for k, v in objectives.items())})."
        ),
        notes="".join(f"<p>{html.escape(note)}</p>" for note in notes),
        device=_device_html({**device, **_xnnpack_row(points)} if device else device),
        chart=chart,
        summary=f"<ul>{summary}</ul>" if summary else "",
        comparison=comparison_html,
        trials=trials_html,
        generated=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    )


def save_png(
    points: Sequence[ModelPoint],
    path: str | Path,
    *,
    references: Sequence[ModelPoint] = (),
    title: str = "",
    objectives: Mapping[str, str] = OBJECTIVES,
) -> Path:
    """Draw the Pareto chart with matplotlib and write it as a PNG (150 dpi)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    drawn = plotted_points(points)
    if not drawn:
        raise ValueError("no evaluated trial (with accuracy, latency and size) to draw")
    front = pareto_front(drawn, objectives)
    own = {p.architecture for p in drawn}
    refs = [p for p in references if p.has_metrics(OBJECTIVES) and p.architecture not in own]
    top = max(float(p.size_bytes) for p in (*drawn, *refs))

    def area(ps: Sequence[ModelPoint]) -> list[float]:
        return [max(12.0, 400.0 * p.size_bytes / top) for p in ps]

    fig, ax = plt.subplots(figsize=(7.5, 4.8), dpi=150)
    others = [p for p in drawn if p not in front]
    if others:
        ax.scatter([p.latency_ms_p50 for p in others], [p.accuracy for p in others], s=area(others),
                   c="#6c8ebf", alpha=0.6, edgecolors="#333", linewidths=0.5, label="trials")
    ax.scatter([p.latency_ms_p50 for p in front], [p.accuracy for p in front], s=area(front),
               c="#2a9d8f", alpha=0.85, edgecolors="#333", linewidths=0.5, label="Pareto front")
    ordered = accuracy_latency_front(drawn)
    ax.step([p.latency_ms_p50 for p in ordered], [p.accuracy for p in ordered], where="post",
            color="#2a9d8f", linestyle=":", linewidth=1, label="accuracy-latency front")
    for group, marker, color, label in (
        ([p for p in drawn if p.is_mobilenet_v2], "*", "#e76f51", "MobileNetV2 (study trial)"),
        (refs, "D", "#f4a261", "reference grid"),
    ):
        if group:
            ax.scatter([p.latency_ms_p50 for p in group], [p.accuracy for p in group], marker=marker,
                       s=140 if marker == "*" else area(group), c=color, edgecolors="#333", linewidths=0.6,
                       label=label, zorder=3)
            for p in group:
                ax.annotate(p.baseline or p.label, (p.latency_ms_p50, p.accuracy), fontsize=7,
                            xytext=(4, 4), textcoords="offset points")
    ax.set_xlabel("int8 latency p50 (ms)")
    ax.set_ylabel("int8 validation accuracy")
    ax.yaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="best", markerscale=0.5)
    if title:
        ax.set_title(title, fontsize=10)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


@dataclasses.dataclass(frozen=True)
class ReportFiles:
    """What :func:`write_report` wrote."""

    html: Path
    png: Path


def hypervolume_note(results: StudyResults) -> str:
    """One sentence on the front's hypervolume (or why there is none) for the report."""
    try:
        summary = summarize_front(results.points, results.objectives)
    except ValueError as exc:  # e.g. every evaluated trial breaks a constraint
        return f"No hypervolume: {exc}."
    reference_text = ", ".join(f"{n} {v:g}" for n, v in summary.reference.items())
    return (f"Hypervolume of the front: {summary.hypervolume:.6g} ({summary.hypervolume_units}) "
            f"against the reference point {reference_text}.")


def write_report(results: StudyResults, *, html_path: Path | None = None, png_path: Path | None = None) -> ReportFiles:
    """Write the study's HTML report (default ``runs/<study>/report.html``) and its PNG chart
    (default ``pareto.png`` next to it), with the cached `nas compare` references if any.

    Raises ``ValueError`` when no trial is evaluated yet.
    """
    html_path = html_path or results.folder / "report.html"
    png_path = png_path or html_path.with_name("pareto.png")
    if not any(p.has_metrics(results.objectives) for p in results.points):
        raise ValueError(f"study {results.name!r} has no evaluated trial yet")
    comparisons = cached_comparisons(results)
    title = f"NAS study {results.name}"
    device = study_device(results.points)
    html_path.parent.mkdir(parents=True, exist_ok=True)
    html_path.write_text(
        build_html(list(results.points), title=title, device=device, comparisons=comparisons,
                   summary_lines=summary_lines(comparisons), objectives=results.objectives,
                   notes=[hypervolume_note(results)]),
        encoding="utf-8",
    )
    save_png(list(results.points), png_path, references=[c.reference for c in comparisons], title=title,
             objectives=results.objectives)
    return ReportFiles(html=html_path, png=png_path)


__all__ = [
    "CHART_DIV_ID",
    "TRACE_FRONT",
    "TRACE_MOBILENET_TRIALS",
    "TRACE_REFERENCES",
    "TRACE_TRIALS",
    "ReportFiles",
    "TrialRow",
    "accuracy_latency_front",
    "build_figure",
    "build_html",
    "hypervolume_note",
    "plotted_points",
    "save_png",
    "trial_rows",
    "write_report",
]

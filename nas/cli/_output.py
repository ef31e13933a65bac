"""How `nas compare`, `nas export` and `nas report` print their results; `nas demo` prints the same."""

from __future__ import annotations

import sys
from typing import Any, TextIO


def print_comparison(result: Any, *, file: TextIO | None = None) -> None:
    """The side-by-side table of a ``nas.results.references.StudyComparison``, its sources and verdicts."""
    import pandas as pd

    from nas.results.compare import ComparisonRow

    file = file or sys.stdout
    table = pd.DataFrame(result.rows()).drop(columns=["architecture"])
    for column in ComparisonRow.FRACTION_FIELDS:
        table[column] = table[column].map(lambda v: f"{100 * v:.1f} %")
    with pd.option_context("display.max_colwidth", 40, "display.width", 250):
        print(table.fillna("").to_string(index=False, float_format=lambda v: f"{v:.4g}"), file=file)
    objective_text = ", ".join(f"{n} ({d})" for n, d in result.objectives.items())
    print(f"\ndominance over {objective_text}; references evaluated with the study's data, budget and profiler:",
          file=file)
    for label, source in result.sources.items():
        print(f"  {label}: {source}", file=file)
    for label, latency in getattr(result, "remeasured", {}).items():
        print(f"  {label}: latency predicted {latency['predicted_ms']:.3f} ms in the search, measured "
              f"{latency['measured_ms']:.3f} ms for this comparison", file=file)
    for line in result.summary():
        print(f"- {line}", file=file)


def print_export_summary(summary: Any, *, file: TextIO | None = None) -> None:
    """The verified export of a ``nas.results.export.exporter.ExportSummary`` in four lines."""
    file = file or sys.stdout
    test = summary.accuracy_int8_test
    latency = summary.latency_ms_p50
    print(f"export verified: {summary.out_dir}", file=file)
    print(f"  int8 accuracy through LiteRT (re-loaded file): val {100 * summary.accuracy_int8_val:.2f} %"
          + ("" if test is None else f", test {100 * test:.2f} %"), file=file)
    print(f"  latency p50: {'-' if latency is None else f'{latency:.3f} ms'} ({summary.latency_note}); "
          f"size {summary.size_bytes / 1024:.1f} KiB; {summary.params:,} params", file=file)
    print(f"  files: {', '.join(summary.files)}", file=file)


def print_report_files(files: Any, *, file: TextIO | None = None) -> None:
    """Where ``nas.results.report.write_report`` wrote the page and the chart."""
    file = file or sys.stdout
    print(f"report: {files.html} ({files.html.stat().st_size / 1e6:.1f} MB, opens from disk)", file=file)
    print(f"chart:  {files.png}", file=file)

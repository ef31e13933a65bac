"""The result steps of `nas demo`: compare with MobileNetV2, export the knee of the front, write the report.

Each step calls the same functions as its command (`nas compare --widths 0.35,1.0`,
`nas export --overwrite`, `nas report`) and prints what the command prints, so the demo shows
exactly what a user gets; the MobileNetV2 evaluations are cached in ``runs/demo/``, so running the
demo again only retrains the exported model.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path

from nas.cli._output import print_comparison, print_export_summary, print_report_files

# MobileNetV2 widths the demo compares against (the study's reference 0.35 is reused, not re-run; 0.5
# is left to `nas compare`: its 30-45 s training would push `make demo` towards its 10 minutes).
DEMO_WIDTHS = ("0.35", "1.0")


class _StepFailed(Exception):
    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


def _read(study_name: str, runs_dir: Path):
    from nas.record.study import open_study
    from nas.results.study import StudyResults

    return StudyResults.read(open_study(study_name, runs_dir=runs_dir), runs_dir=runs_dir)


def _compare(study_name: str, runs_dir: Path) -> None:
    from nas.record.study import StudyError
    from nas.results.references import compare_study

    try:
        result = compare_study(_read(study_name, runs_dir), widths=DEMO_WIDTHS)
    except (StudyError, ValueError, KeyError, RuntimeError) as exc:
        raise _StepFailed(f"nas compare: {exc}", 2) from exc
    print_comparison(result)


def _export(study_name: str, runs_dir: Path) -> None:
    from nas.record.study import StudyError
    from nas.results.export.exporter import ExportError, ExportSettings, export_model
    from nas.results.references import comparison_lines
    from nas.results.selection import SelectionError, SelectionRequest, select_model

    try:
        results = _read(study_name, runs_dir)
        selection = select_model(results.points, SelectionRequest(), results.objectives)
        config = results.search_config
        out = results.folder / "export" / f"trial_{selection.point.trial_number}"
    except (StudyError, SelectionError, ValueError) as exc:
        raise _StepFailed(f"nas export: {exc}", 2) from exc
    print(f"exporting {selection.reason}")
    try:
        summary = export_model(selection=selection, study_name=results.name, config=config,
                               settings=ExportSettings(out_dir=out, overwrite=True),
                               comparison_lines=comparison_lines(selection.point, results))
    except (ExportError, ValueError, RuntimeError) as exc:
        raise _StepFailed(f"nas export: failed: {exc}", 1) from exc
    print_export_summary(summary)


def _report(study_name: str, runs_dir: Path) -> None:
    from nas.record.study import StudyError
    from nas.results.report import write_report

    try:
        files = write_report(_read(study_name, runs_dir))
    except (StudyError, ValueError) as exc:
        raise _StepFailed(f"nas report: {exc}", 2) from exc
    print_report_files(files)


# (title, the command that reruns the step, the step)
_STEPS: tuple[tuple[str, str, Callable[[str, Path], None]], ...] = (
    ("comparison with MobileNetV2", "compare --widths " + ",".join(DEMO_WIDTHS), _compare),
    ("export of the Pareto-best model (knee of the front)", "export --overwrite", _export),
    ("report", "report", _report),
)


def run_result_steps(study_name: str, runs_dir: str | Path) -> int:
    """Compare, export (knee of the front, verified) and report; prints as the commands do."""
    runs_dir = Path(runs_dir)
    for title, command, step in _STEPS:
        start = time.perf_counter()
        print(f"\n== demo: {title} ==", flush=True)
        try:
            step(study_name, runs_dir)
        except _StepFailed as failure:
            print(str(failure), file=sys.stderr)
            name, _, flags = command.partition(" ")
            print(f"demo step failed ({title}); rerun it with: nas {name} --study {study_name} "
                  f"--runs-dir {runs_dir}" + (f" {flags}" if flags else ""))
            return failure.code
        print(f"({title}: {time.perf_counter() - start:.0f} s)")
    _print_recap(study_name, runs_dir)
    return 0


def _print_recap(study_name: str, runs_dir: Path) -> None:
    """The exported model against MobileNetV2, last, so the demo ends with its result."""
    from nas.results.export.exporter import SUMMARY_FILE
    from nas.results.selection import SelectionRequest, select_model

    results = _read(study_name, runs_dir)
    chosen = select_model(results.points, SelectionRequest(), results.objectives).point
    export_dir = results.folder / "export" / f"trial_{chosen.trial_number}"
    print("\n== demo: result ==")
    print(f"exported trial {chosen.trial_number}: {export_dir} (see {SUMMARY_FILE} and MODEL_CARD.md)")
    print(f"the exported model (trial {chosen.trial_number}) against MobileNetV2 at the search's proxy budget, "
          "same data and profiler:")
    for line in recap_lines(chosen, results) or ["(no MobileNetV2 point evaluated)"]:
        print(f"  - {line}")
    print(f"report: {results.folder / 'report.html'}")


def recap_lines(chosen, results) -> list[str]:
    """One line per MobileNetV2 point, in the exported model's words, naming the study's models that
    dominate it (the table above speaks of the whole front; these lines must not seem to contradict it).

    Dominance and speed-up at equal-or-better accuracy as in ``nas compare`` (MnasNet, Tan et al. 2019).
    """
    import dataclasses

    from nas.results.compare import compare
    from nas.results.references import discovered_front, load_cached

    references = load_cached(results.folder) or [
        p for p in results.points if p.is_mobilenet_v2 and p.has_metrics(results.objectives)]
    references = [r if r.trial_number is None
                  else dataclasses.replace(r, label=f"{r.baseline} (trial {r.trial_number})")
                  for r in references if r.architecture != chosen.architecture]
    if not references:
        return []
    front = [p for p in discovered_front(results) if p.label != chosen.label]
    by_front = compare(front, references, results.objectives) if front else [None] * len(references)
    lines = []
    for mine, theirs in zip(compare([chosen], references, results.objectives), by_front, strict=True):
        ref = mine.reference
        if mine.dominated_by:
            verdict = "the exported model dominates it"
        elif mine.dominates:
            verdict = "it dominates the exported model"
        else:
            verdict = "the exported model does not dominate it"
        others = [d.label for d in theirs.dominated_by] if theirs is not None else []
        verdict += (f"; dominated by {', '.join(others)} of the front" if others
                    else "; no other model of the front dominates it")
        if mine.speedup is None:
            speed = "the exported model is less accurate"
        elif mine.speedup >= 1:
            speed = f"the exported model is {mine.speedup:.2f}x faster at equal-or-better accuracy"
        else:  # as accurate, but slower: say so instead of "0.72x faster"
            speed = (f"the exported model is at least as accurate but slower "
                     f"({1 / mine.speedup:.2f}x its latency)")
        lines.append(f"{ref.label} ({100 * ref.accuracy:.1f} %, {ref.latency_ms_p50:.2f} ms): {verdict}; {speed}")
    return lines

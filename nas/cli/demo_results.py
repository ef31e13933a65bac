"""The result steps of `nas demo`: compare with MobileNetV2, export the knee of the front, write the report.

Each step runs the same code as its command (`nas compare`, `nas export`, `nas report`), so the
demo shows exactly what a user gets; the MobileNetV2 evaluations are cached in ``runs/demo/``,
so running the demo again only retrains the exported model.
"""

from __future__ import annotations

import argparse
import importlib
import time
from pathlib import Path
from typing import Sequence

# MobileNetV2 widths the demo compares against (the study's reference 0.35 is reused, not re-run).
DEMO_WIDTHS = "0.35,0.5,1.0"


def _run(module_name: str, argv: Sequence[str]) -> int:
    module = importlib.import_module(module_name)
    parser = argparse.ArgumentParser(prog=f"nas {module_name.rsplit('.', 1)[-1].removesuffix('_cli')}")
    module.add_arguments(parser)
    return int(module.run(parser.parse_args(list(argv))) or 0)


def run_result_steps(study_name: str, runs_dir: str | Path) -> int:
    """Compare, export (knee of the front, verified) and report; prints as the commands do."""
    common = ["--study", study_name, "--runs-dir", str(runs_dir)]
    steps = (
        ("comparison with MobileNetV2", "nas.cli.compare", [*common, "--widths", DEMO_WIDTHS]),
        ("export of the Pareto-best model (knee of the front)", "nas.cli.export", [*common, "--overwrite"]),
        ("report", "nas.cli.report", common),
    )
    for title, module_name, argv in steps:
        start = time.perf_counter()
        print(f"\n== demo: {title} ==", flush=True)
        code = _run(module_name, argv)
        if code:
            print(f"demo step failed ({title}); rerun it with: nas {module_name.split('.')[1].removesuffix('_cli')} "
                  + " ".join(argv))
            return code
        print(f"({title}: {time.perf_counter() - start:.0f} s)")
    _print_recap(study_name, Path(runs_dir))
    return 0


def _print_recap(study_name: str, runs_dir: Path) -> None:
    """The exported model against MobileNetV2, last, so the demo ends with its result."""
    from nas.results.export.exporter import SUMMARY_FILE
    from nas.cli.export import comparison_lines
    from nas.results.selection import SelectionRequest, select_model
    from nas.record.study import open_study
    from nas.record.points import study_objectives, study_points

    study = open_study(study_name, runs_dir=runs_dir)
    objectives = study_objectives(study)
    points = study_points(study)
    chosen = select_model(points, SelectionRequest(), objectives).point
    folder = runs_dir / study_name
    export_dir = folder / "export" / f"trial_{chosen.trial_number}"
    print("\n== demo: result ==")
    print(f"exported trial {chosen.trial_number}: {export_dir} (see {SUMMARY_FILE} and MODEL_CARD.md)")
    print("against MobileNetV2 at the search's proxy budget, same data and profiler:")
    for line in comparison_lines(chosen, folder, points, objectives) or ["(no MobileNetV2 point evaluated)"]:
        print(f"  - {line}")
    print(f"report: {folder / 'report.html'}")

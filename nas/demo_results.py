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
        ("comparison with MobileNetV2", "nas.compare_cli", [*common, "--widths", DEMO_WIDTHS]),
        ("export of the Pareto-best model (knee of the front)", "nas.export_cli", [*common, "--overwrite"]),
        ("report", "nas.report_cli", common),
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
    return 0

"""What a finished search gives: its Pareto front and hypervolume, the comparison with reference
architectures, the choice and verified export of one model, the trial table and the HTML report.

Names are loaded on first use (PEP 562), so importing a module of it stays free of Optuna,
pandas and TensorFlow.
"""

from __future__ import annotations

import importlib
from typing import Any

# public name -> the submodule that defines it
_EXPORTS = {
    "StudyResults": "study",
    "stored_search_config": "study",
    "FrontSummary": "front",
    "pareto_front": "front",
    "parse_reference": "front",
    "summarize_front": "front",
    "ReferenceComparison": "compare",
    "compare": "compare",
    "StudyComparison": "references",
    "compare_study": "references",
    "comparison_lines": "references",
    "Selection": "selection",
    "SelectionError": "selection",
    "SelectionRequest": "selection",
    "knee_of": "selection",
    "select_model": "selection",
    "ReportFiles": "report",
    "write_report": "report",
    "trials_json": "trials",
    "trials_table": "trials",
    "ExportError": "export.exporter",
    "ExportSettings": "export.exporter",
    "ExportSummary": "export.exporter",
    "export_model": "export.exporter",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})

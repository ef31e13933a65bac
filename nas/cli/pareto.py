"""`nas pareto`: the non-dominated trials of a study and the hypervolume of their front."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from typing import Any, Mapping, Sequence

from nas.results import pareto
from nas.results.front import ModelPoint, default_reference, objective_matrix, pareto_front

logger = logging.getLogger(__name__)

_UNITS = {"accuracy": "fraction", "latency_ms_p50": "ms", "size_bytes": "bytes"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from nas.cli._study import add_study_arguments

    add_study_arguments(parser)
    parser.add_argument(
        "--reference",
        default=None,
        metavar="NAME=VALUE,...",
        help="hypervolume reference point, e.g. accuracy=0,latency_ms_p50=50,size_bytes=2e6 "
        "(default: accuracy 0 and 1.1 x the worst latency / size of the study's trials)",
    )
    parser.add_argument("--json", action="store_true", help="print the front and hypervolume as JSON")


def parse_reference(text: str, objectives: Mapping[str, str]) -> list[float]:
    """``"accuracy=0,latency_ms_p50=50,size_bytes=2e6"`` -> values in the objectives' order."""
    values: dict[str, float] = {}
    for part in text.split(","):
        name, sep, value = part.partition("=")
        name = name.strip()
        if not sep or name not in objectives:
            raise ValueError(f"--reference: expected NAME=VALUE with NAME in {', '.join(objectives)}, got {part!r}")
        try:
            values[name] = float(value)
        except ValueError:
            raise ValueError(f"--reference: {name} must be a number, got {value!r}") from None
    missing = [n for n in objectives if n not in values]
    if missing:
        raise ValueError(f"--reference: missing {', '.join(missing)} (the study's objectives are {', '.join(objectives)})")
    return [values[n] for n in objectives]


def front_rows(front: Sequence[ModelPoint]) -> list[dict[str, Any]]:
    return [
        {
            "trial": p.trial_number,
            "accuracy_int8": p.accuracy,
            "latency_ms_p50": p.latency_ms_p50,
            "size_kb": p.size_bytes / 1024,
            "params": p.params,
            "macs": p.macs,
            "mobilenet_v2": p.baseline if p.is_mobilenet_v2 else "",
            "architecture": p.architecture,
        }
        for p in sorted(front, key=lambda p: p.latency_ms_p50)
    ]


def summarize(points: Sequence[ModelPoint], objectives: Mapping[str, str], reference: Sequence[float] | None) -> dict[str, Any]:
    """Front, hypervolume and the MobileNetV2 verdict of a study's points."""
    from nas.record.points import distinct

    candidates = [p for p in distinct(points) if p.has_metrics(objectives) and p.feasible]
    if not candidates:
        raise ValueError("the study has no feasible evaluated trial yet")
    front = pareto_front(candidates, objectives)
    if reference is None:
        reference = default_reference(candidates, objectives)
    hv = pareto.hypervolume(objective_matrix(front, objectives), reference, list(objectives.values()))
    mobilenets = [p for p in candidates if p.is_mobilenet_v2]
    return {
        "objectives": dict(objectives),
        "front": front,
        "reference": dict(zip(objectives, reference)),
        "hypervolume": hv,
        "hypervolume_units": " x ".join(_UNITS[n] for n in objectives),
        "mobilenet_v2": [{"trial": p.trial_number, "name": p.baseline, "on_front": p in front} for p in mobilenets],
        "n_evaluated": len(candidates),
    }


def run(args: argparse.Namespace) -> int:
    from nas.record.study import StudyError
    from nas.cli._study import open_study_from_args
    from nas.record.points import study_objectives, study_points

    try:
        study = open_study_from_args(args)
        objectives = study_objectives(study)
        reference = parse_reference(args.reference, objectives) if args.reference else None
        summary = summarize(study_points(study), objectives, reference)
    except (StudyError, ValueError) as exc:
        print(f"nas pareto: {exc}", file=sys.stderr)
        return 2
    rows = front_rows(summary["front"])
    if args.json:
        out = {k: v for k, v in summary.items() if k != "front"} | {"study": study.study_name, "front": rows}
        print(json.dumps(out, indent=2))
        return 0
    import pandas as pd

    table = pd.DataFrame(rows)
    with pd.option_context("display.max_colwidth", 60, "display.width", 200):
        print(table.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    objective_text = ", ".join(f"{n} ({d})" for n, d in objectives.items())
    print(f"\n{len(rows)} of {summary['n_evaluated']} feasible evaluated trials are on the front of {objective_text}.")
    ref_text = ", ".join(f"{n}={v:g}" for n, v in summary["reference"].items())
    print(f"hypervolume {summary['hypervolume']:.6g} ({summary['hypervolume_units']}) against reference {ref_text}")
    for m in summary["mobilenet_v2"]:
        verdict = "IS on the front" if m["on_front"] else "is NOT on the front (dominated by a discovered model)"
        print(f"MobileNetV2 reference {m['name']} (trial {m['trial']}) {verdict}")
    if not summary["mobilenet_v2"]:
        print("the study holds no evaluated MobileNetV2 reference trial")
    return 0

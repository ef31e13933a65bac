"""Final numbers are measured: front models whose latency a predictor gave are measured before a comparison.

A search with ``latency.source: predicted`` (or an unverified ``predicted+verify`` trial) records a
predicted latency (issue 15, docs/latency_predictor.md). ``nas compare`` and the comparison in an
export's model card report measured latencies only: :func:`measured_front` measures the untrained
int8 model of every front model whose latency was predicted with the study's profiler (latency depends
on the graph and its int8 kernels, not on the weights: MnasNet, Tan et al. 2019), recomputes the front
with the measured values, and repeats until every model on it is measured. Measurements are cached in
``runs/<study>/final_latency/trial_<N>/result.json`` with a fingerprint of the architecture and the
profiler settings, so running the comparison again measures nothing new.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from nas.record.points import ModelPoint, record_from_attrs
from nas.record.trial_record import TrialRecord
from nas.results.front import pareto_front
from nas.trial.latency import latency_was_measured
from nas.trial.protocol import CostMeasurement

logger = logging.getLogger(__name__)

FINAL_DIR = "final_latency"
RESULT_FILE = "result.json"
#: ``ModelPoint.extra`` key holding the predicted latency a measurement replaced.
PREDICTED_KEY = "latency_ms_p50_predicted"

# measure(architecture string, folder) -> the profiler's measurement of its untrained int8 model
Measure = Callable[[str, Path], CostMeasurement]


def trial_records(study: Any) -> dict[int, TrialRecord]:
    """Trial number -> record of every trial of ``study``."""
    return {t.number: record_from_attrs(t.user_attrs) for t in study.get_trials(deepcopy=False)}


def needs_measuring(point: ModelPoint, records: Mapping[int, TrialRecord]) -> bool:
    """A study trial whose recorded latency was predicted and not yet measured here."""
    record = records.get(point.trial_number) if point.trial_number is not None else None
    if record is None or PREDICTED_KEY in point.extra:
        return False
    return not latency_was_measured(record.latency_source, record.profiler)


def profiler_measure(config_dict: Mapping[str, Any]) -> Measure:
    """Measures with the study's stored profiler settings (no dataset loaded, nothing trained)."""
    state: dict[str, Any] = {}

    def measure(architecture: str, folder: Path) -> CostMeasurement:
        from evaluators import CheapEvaluator
        from nas.config import build_config
        from nas.trial.evaluation import EvaluatorAdapter, make_profiler
        from search_spaces.architecture import Architecture

        arch = Architecture.from_string(architecture)
        if "adapter" not in state:
            config = build_config(config_dict)
            cheap = CheapEvaluator(make_profiler(config.profiler), config.profiler.measure_kwargs(),
                                   seed=config.study.seed)
            state["adapter"] = EvaluatorAdapter(cheap, None, channels=arch.channels, num_classes=arch.num_classes)
        return state["adapter"].measure_cost(arch, folder)

    return measure


def measured_latency(trial_number: int, architecture: str, label: str, *, study_dir: Path,
                     settings_fingerprint: str, measure: Measure) -> tuple[dict[str, float], dict[str, Any]]:
    """Latency statistics and device of trial ``trial_number``'s model, measured once and cached under
    ``final_latency/``; a failed measurement raises RuntimeError naming ``label``."""
    folder = Path(study_dir) / FINAL_DIR / f"trial_{trial_number}"
    path = folder / RESULT_FILE
    cached = json.loads(path.read_text()) if path.is_file() else {}
    if cached.get("fingerprint") == settings_fingerprint and cached.get("arch") == architecture:
        return cached["stats_ms"], cached.get("measured_on") or {}
    folder.mkdir(parents=True, exist_ok=True)
    cost = measure(architecture, folder)
    if cost.failure_reason is not None or cost.latency_ms_p50 is None:
        raise RuntimeError(f"{label}'s predicted latency could not be measured: {cost.failure_reason}")
    path.write_text(json.dumps({"arch": architecture, "fingerprint": settings_fingerprint,
                                "stats_ms": dict(cost.latency_ms), "measured_on": dict(cost.device)},
                               indent=1, default=str) + "\n")
    return dict(cost.latency_ms), dict(cost.device)


def measured_point(point: ModelPoint, study_dir: Path, settings_fingerprint: str, measure: Measure) -> ModelPoint:
    """``point`` with its latency measured (cached under ``final_latency/``); a failure raises RuntimeError."""
    latency_ms, device = measured_latency(point.trial_number, point.architecture, point.label, study_dir=study_dir,
                                          settings_fingerprint=settings_fingerprint, measure=measure)
    logger.info("%s: predicted latency %.3f ms, measured %.3f ms", point.label, point.latency_ms_p50,
                latency_ms["p50"])
    return dataclasses.replace(point, latency_ms_p50=float(latency_ms["p50"]), device=device or point.device,
                               extra={**point.extra, PREDICTED_KEY: point.latency_ms_p50})


def measured_front(points: Sequence[ModelPoint], objectives: Mapping[str, str], records: Mapping[int, TrialRecord],
                   *, study_dir: Path, settings_fingerprint: str, measure: Measure) -> list[ModelPoint]:
    """The Pareto front of ``points`` (references excluded) in which every latency is measured.

    Front models with a predicted latency are measured and the front recomputed until none is left:
    a measured model may leave the front and let a predicted one in, which is then measured too.
    """
    current = list(points)
    while True:
        front = [p for p in pareto_front(current, objectives) if not p.baseline]
        pending = {id(p) for p in front if needs_measuring(p, records)}
        if not pending:
            return front
        current = [measured_point(p, study_dir, settings_fingerprint, measure) if id(p) in pending else p
                   for p in current]


def remeasured(points: Sequence[ModelPoint]) -> dict[str, dict[str, float]]:
    """Label -> predicted and measured p50 (ms) of the models measured here."""
    return {p.label: {"predicted_ms": p.extra[PREDICTED_KEY], "measured_ms": p.latency_ms_p50}
            for p in points if PREDICTED_KEY in p.extra}


__all__ = ["FINAL_DIR", "PREDICTED_KEY", "measured_front", "measured_latency", "measured_point", "needs_measuring",
           "profiler_measure", "remeasured", "trial_records"]

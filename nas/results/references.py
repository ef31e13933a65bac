"""Reference architectures (MobileNetV2 widths, EfficientNet-B0, ...) evaluated like the study's trials,
and the study's front compared with them (`nas compare`, the export's model card, the report).

Each reference is adapted to the study's input (resolution, channels, classes) and goes through the
study's own trial pipeline (same data, proxy budget and profiler), then is cached in
``runs/<study>/baselines/<name>_r<resolution>/result.json`` together with a fingerprint of the
settings that produced it, so ``nas compare`` run again reuses it and a changed budget re-evaluates.
The cached ``attrs`` are a trial record's user attributes (docs/interfaces.md "Study record"), read
back through :class:`nas.record.trial_record.TrialRecord`, so caches written by earlier versions load.
The comparison readings (dominance, speed-up, accuracy gain) follow MnasNet (Tan et al., CVPR 2019).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from nas.record.points import ModelPoint, distinct, point_from_record, record_from_attrs
from nas.record.trial_record import TrialRecord, is_done
from nas.results.compare import ReferenceComparison, compare, side_by_side_rows, summary_lines
from nas.results.final_latency import (
    measured_front,
    measured_latency,
    measured_point,
    needs_measuring,
    profiler_measure,
    remeasured,
    trial_records,
)
from nas.results.front import pareto_front
from nas.results.study import StudyResults, stored_search_config
from nas.trial.latency import MeasuredLatency, latency_was_measured

logger = logging.getLogger(__name__)

CACHE_DIR = "baselines"
RESULT_FILE = "result.json"
# MobileNetV2 widths of the registry, smallest first (search_spaces.baselines).
MOBILENET_V2_WIDTHS = ("0.35", "0.5", "0.75", "1.0")
# The cached attrs of a reference copied from a study trial name that trial (docs/interfaces.md).
SOURCE_TRIAL_KEY = "source_trial"

MEASURED_SOURCE = MeasuredLatency.name
# evaluate(folder) -> the trial record of one reference evaluated in ``folder``
Evaluate = Callable[[Path], TrialRecord]


def cache_key(name: str, resolution: int) -> str:
    return f"{name}_r{int(resolution)}"


def fingerprint(settings: Mapping[str, Any]) -> str:
    """Short hash of the settings an evaluation depends on (dataset, training, profiler, input)."""
    text = json.dumps(settings, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def reference_label(name: str, resolution: int, resolutions: Sequence[int]) -> str:
    """``mobilenet_v2_0.35`` or, when several resolutions are compared, ``mobilenet_v2_0.35@96px``."""
    return f"{name}@{resolution}px" if len(set(resolutions)) > 1 else name


def _record(result: Mapping[str, Any]) -> TrialRecord:
    """The cached reference's record (results of earlier versions without ``trained`` count as trained)."""
    return record_from_attrs(result.get("attrs") or {})


def _point(result: Mapping[str, Any]) -> ModelPoint:
    record = _record(result).replace(is_reference=True, reference_name=result["name"])
    return point_from_record(None, record, label=result.get("label") or result["name"])


def _read_result(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        logger.warning("ignoring unreadable cached reference %s: %s", path, exc)
        return None


def load_cached(study_dir: str | Path, *, settings_fingerprint: str | None = None) -> list[ModelPoint]:
    """Every cached, successfully evaluated reference of a study (optionally only one fingerprint)."""
    folder = Path(study_dir) / CACHE_DIR
    points = []
    for path in sorted(folder.glob(f"*/{RESULT_FILE}")):
        result = _read_result(path)
        if result is None:
            continue
        if settings_fingerprint is not None and result.get("fingerprint") != settings_fingerprint:
            continue
        if _record(result).accuracy_int8 is None:
            continue
        points.append(_point(result))
    return sorted(points, key=lambda p: (p.latency_ms_p50 or 0.0, p.label))


def cached_result(
    study_dir: str | Path, name: str, resolution: int, settings_fingerprint: str
) -> dict[str, Any] | None:
    path = Path(study_dir) / CACHE_DIR / cache_key(name, resolution) / RESULT_FILE
    if not path.is_file():
        return None
    result = _read_result(path)
    return result if result is not None and result.get("fingerprint") == settings_fingerprint else None


def evaluate_reference(
    *,
    name: str,
    resolution: int,
    label: str,
    study_dir: str | Path,
    settings_fingerprint: str,
    evaluate: Evaluate,
    refresh: bool = False,
) -> tuple[ModelPoint, bool]:
    """The cached result of ``name`` at ``resolution``, or ``evaluate(folder)`` stored as the new one.

    ``evaluate`` returns the reference's :class:`TrialRecord`; ``refresh`` skips the cache lookup.
    Returns (point, came_from_cache). A failed evaluation raises ``RuntimeError`` with its reason
    and is not cached.
    """
    cached = None if refresh else cached_result(study_dir, name, resolution, settings_fingerprint)
    if cached is not None:
        cached["label"] = label
        return _point(cached), True
    folder = Path(study_dir) / CACHE_DIR / cache_key(name, resolution)
    folder.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    record = evaluate(folder)
    if record.failure_reason:
        raise RuntimeError(f"reference {label} could not be evaluated: {record.failure_reason}")
    result = {
        "name": name,
        "resolution": int(resolution),
        "label": label,
        "fingerprint": settings_fingerprint,
        "seconds": time.perf_counter() - start,
        "attrs": record.to_user_attrs(),
    }
    (folder / RESULT_FILE).write_text(json.dumps(result, indent=2, default=str) + "\n", encoding="utf-8")
    logger.info("reference %s recorded in %s (%.1f s)", label, folder, result["seconds"])
    return _point(result), False


@dataclasses.dataclass(frozen=True)
class FingerprintSettings:
    """What a reference's result depends on: the architecture and the study's data, budget, profiler.

    Its dict form is hashed by :func:`fingerprint`; the field names are those of earlier caches, so
    a cache written before still matches.
    """

    architecture: str
    dataset: Any
    training: Any
    profiler: Any


def _without_secrets(section: Any) -> Any:
    """A config section without ``token_file`` (where the profiler token is read: not a setting)."""
    if not isinstance(section, Mapping):
        return section
    return {k: v for k, v in section.items() if k != "token_file"}


def settings_for_fingerprint(config_dict: Mapping[str, Any], architecture: str) -> dict[str, Any]:
    """The fingerprinted settings of ``architecture`` under the study's stored config (its dict form)."""
    sections = {f.name: _without_secrets(config_dict.get(f.name))
                for f in dataclasses.fields(FingerprintSettings) if f.name != "architecture"}
    settings = dataclasses.asdict(FingerprintSettings(architecture=architecture, **sections))
    evaluator = config_dict.get("evaluator")
    if isinstance(evaluator, Mapping) and evaluator.get("name", "training") != "training":
        settings["evaluator"] = evaluator  # inherited accuracies; studies that train keep their earlier caches
    return settings


def grid_names(baselines: Sequence[str] | None, widths: Sequence[str] | None) -> list[str]:
    """The registry names to compare against: ``baselines`` as given, else the MobileNetV2 widths."""
    from search_spaces import list_baselines

    known = list_baselines()
    if baselines:
        names = list(baselines)
    else:
        names = [f"mobilenet_v2_{w}" for w in (widths or MOBILENET_V2_WIDTHS)]
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ValueError(f"unknown baseline(s) {', '.join(unknown)}; known: {', '.join(known)}")
    return names


def _evaluated_trials(study: Any) -> dict[str, tuple[int, TrialRecord]]:
    """Architecture -> (trial number, record) of every trial that holds an int8 accuracy."""
    done: dict[str, tuple[int, TrialRecord]] = {}
    for trial in study.get_trials(deepcopy=False):
        record = record_from_attrs(trial.user_attrs)
        if is_done(trial) and record.accuracy_int8 is not None and record.architecture:
            done[record.architecture] = (trial.number, record)
    return done


class _PipelineEvaluation:
    """Evaluates references with the study's own trial pipeline, the evaluator built on first use."""

    def __init__(self, config_dict: Mapping[str, Any], evaluator_factory: Callable[[], Any] | None) -> None:
        from nas.config import build_config

        self.config = build_config(config_dict)
        self.factory = evaluator_factory
        self.evaluator: Any = None

    def __call__(self, arch: Any, folder: Path) -> TrialRecord:
        from nas.config import ConstraintSettings
        from nas.trial.latency import MeasuredLatency
        from nas.trial.objectives import ObjectiveSet
        from nas.trial.pipeline import TrialPipeline

        if self.evaluator is None:
            self.evaluator = self.factory() if self.factory is not None else _study_evaluator(self.config)
        pipeline = TrialPipeline(self.evaluator, ObjectiveSet.from_config(self.config),
                                 ConstraintSettings(None, None, None), folder,
                                 latency_source=MeasuredLatency())  # compared numbers are always measured
        return pipeline.run(arch, trial_number=0).record


def _study_evaluator(config: Any) -> Any:
    """The study's own evaluator (``evaluator.name``): a supernet study scores its references with the
    supernet too, so they compare with its trials' inherited accuracies (issue 16)."""
    from nas.strategies._setup import make_evaluator

    return make_evaluator(config)


def evaluate_grid(
    *,
    study: Any,
    names: Sequence[str],
    resolutions: Sequence[int],
    study_dir: str | Path,
    evaluator_factory: Callable[[], Any] | None = None,
) -> list[tuple[ModelPoint, str]]:
    """Evaluate every (name, resolution) like the study's trials; returns (point, source) pairs.

    ``source`` is ``study trial N`` when the study already evaluated that exact architecture (its
    MobileNetV2 reference, typically), ``cache`` for a cached result, ``evaluated`` otherwise. New
    evaluations run the study's own trial pipeline (``nas.trial.pipeline.TrialPipeline`` with the
    evaluator built from the study's stored config, no constraint gate).
    """
    from search_spaces import get_baseline
    from search_spaces.architecture import Architecture

    config_dict = stored_search_config(study)
    done = _evaluated_trials(study)
    # channels and classes come from a trial's architecture: no need to load the dataset to know them
    sample = next(iter(done), None)
    if sample is None:
        raise ValueError(f"study {study.study_name!r} has no evaluated trial yet")
    sample_arch = Architecture.from_string(sample)
    pipeline = _PipelineEvaluation(config_dict, evaluator_factory)
    results = []
    for resolution in resolutions:
        for name in names:
            arch = get_baseline(name).with_input(
                resolution=resolution, channels=sample_arch.channels, num_classes=sample_arch.num_classes)
            text = arch.to_string()
            key = fingerprint(settings_for_fingerprint(config_dict, text))
            where = dict(name=name, resolution=resolution, label=reference_label(name, resolution, resolutions),
                         study_dir=study_dir, settings_fingerprint=key)
            if text in done:  # evaluated by the study itself (its reference trial): copy, don't redo
                number, record = done[text]
                copied = record.replace(extra={**record.extra, SOURCE_TRIAL_KEY: number})
                if not latency_was_measured(record.latency_source, record.profiler):  # predicted: measure it
                    copied = _with_measured_latency(copied, number, Path(study_dir), config_dict, evaluator_factory)
                point, _ = evaluate_reference(**where, evaluate=lambda folder, r=copied: r, refresh=True)
                results.append((point, f"study trial {number}"))
                continue
            point, cached = evaluate_reference(**where, evaluate=lambda folder, arch=arch: pipeline(arch, folder))
            results.append((point, "cache" if cached else "evaluated"))
    return results


def _with_measured_latency(record: TrialRecord, number: int, study_dir: Path, config_dict: Mapping[str, Any],
                           evaluator_factory: Callable[[], Any] | None) -> TrialRecord:
    """A reference trial's record whose predicted latency is replaced by the profiler's measurement."""
    latency_ms, device = measured_latency(
        number, record.architecture, f"reference trial {number}", study_dir=study_dir,
        settings_fingerprint=_profiler_fingerprint(config_dict),
        measure=_final_latency_measure(config_dict, evaluator_factory))
    return record.replace(latency_ms_p50=float(latency_ms["p50"]), latency_ms=dict(latency_ms),
                          latency_source=MEASURED_SOURCE, device=device or record.device)


def _profiler_fingerprint(config_dict: Mapping[str, Any]) -> str:
    """Fingerprint of the profiler settings alone (what a latency measurement depends on)."""
    settings = FingerprintSettings(**settings_for_fingerprint(config_dict, ""))
    return fingerprint(dataclasses.asdict(dataclasses.replace(settings, dataset=None, training=None)))


def front_resolutions(front: Sequence[ModelPoint]) -> list[int]:
    """The input resolutions of the given models' architectures, ascending."""
    from search_spaces.architecture import Architecture

    return sorted({Architecture.from_string(p.architecture).resolution for p in front})


@dataclasses.dataclass(frozen=True)
class StudyComparison:
    """The study's discovered front models against the references (what `nas compare` prints).

    ``sources`` maps each reference label to where its numbers came from (``study trial N``,
    ``cache`` or ``evaluated``).
    """

    study: str
    objectives: dict[str, str]
    sources: dict[str, str]
    comparisons: tuple[ReferenceComparison, ...]
    discovered: tuple[ModelPoint, ...]
    # Discovered models whose recorded latency was predicted, measured for this comparison:
    # label -> {"predicted_ms", "measured_ms"}.
    remeasured: dict[str, dict[str, float]] = dataclasses.field(default_factory=dict)

    def rows(self) -> list[dict[str, Any]]:
        return [row.to_dict() for row in side_by_side_rows(self.discovered, self.comparisons)]

    def summary(self) -> list[str]:
        return summary_lines(self.comparisons)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form `nas compare --json` prints."""
        return {"study": self.study, "objectives": self.objectives, "sources": self.sources,
                "latency_measured_for_comparison": self.remeasured, "rows": self.rows(), "summary": self.summary()}


def discovered_front(results: StudyResults) -> list[ModelPoint]:
    """The study's front models that are not reference architectures (each model once)."""
    return [p for p in pareto_front(distinct(results.points), results.objectives) if not p.baseline]


def _final_latency_measure(config_dict: Mapping[str, Any],
                           evaluator_factory: Callable[[], Any] | None) -> Callable[[str, Path], Any]:
    """The measurement of predicted latencies: the injected evaluator's, else the study's profiler."""
    if evaluator_factory is None:
        return profiler_measure(config_dict)
    from search_spaces.architecture import Architecture

    state: dict[str, Any] = {}

    def measure(architecture: str, folder: Path) -> Any:
        state.setdefault("evaluator", evaluator_factory())
        return state["evaluator"].measure_cost(Architecture.from_string(architecture), folder)

    return measure


def measured_discovered_front(results: StudyResults, *,
                              evaluator_factory: Callable[[], Any] | None = None) -> list[ModelPoint]:
    """:func:`discovered_front` with every predicted latency on it measured (:mod:`nas.results.final_latency`)."""
    records = trial_records(results.study)
    points = distinct(results.points)
    if not any(needs_measuring(p, records) for p in points):
        return discovered_front(results)
    config_dict = stored_search_config(results.study)
    return measured_front(points, results.objectives, records, study_dir=results.folder,
                          settings_fingerprint=_profiler_fingerprint(config_dict),
                          measure=_final_latency_measure(config_dict, evaluator_factory))


def compare_study(
    results: StudyResults,
    *,
    baselines: Sequence[str] | None = None,
    widths: Sequence[str] | None = None,
    resolutions: Sequence[int] | None = None,
    evaluator_factory: Callable[[], Any] | None = None,
) -> StudyComparison:
    """Evaluate (or load) the references and compare the study's discovered front with them.

    ``baselines`` are registry names (default: the MobileNetV2 ``widths`` grid); ``resolutions``
    default to those of the discovered front models.
    """
    discovered = measured_discovered_front(results, evaluator_factory=evaluator_factory)
    if not discovered:
        raise ValueError(f"study {results.name!r} has no discovered model on its front yet "
                         "(only the reference, or nothing evaluated)")
    evaluated = evaluate_grid(study=results.study, names=grid_names(baselines, widths),
                              resolutions=list(resolutions or front_resolutions(discovered)),
                              study_dir=results.folder, evaluator_factory=evaluator_factory)
    comparisons = compare(discovered, [point for point, _ in evaluated], results.objectives)
    return StudyComparison(study=results.name, objectives=dict(results.objectives),
                           sources={point.label: source for point, source in evaluated},
                           comparisons=tuple(comparisons), discovered=tuple(discovered),
                           remeasured=remeasured(discovered))


def cached_comparisons(results: StudyResults) -> list[ReferenceComparison]:
    """The discovered front against the references `nas compare` cached (none cached: empty)."""
    references = load_cached(results.folder)
    if not references:
        logger.info("no cached reference evaluations in %s; run `nas compare` to add the comparison",
                    results.folder)
        return []
    discovered = discovered_front(results)
    return compare(discovered, references, results.objectives) if discovered else []


def comparison_lines(chosen: ModelPoint, results: StudyResults, *,
                     measure: Callable[[str, Path], Any] | None = None) -> list[str]:
    """The chosen model against the study's MobileNetV2 points (its cached `nas compare` evaluations,
    else its reference trial), at the search's proxy budget; a predicted latency of the chosen model
    is measured first (``measure``: default the study's profiler)."""
    references = load_cached(results.folder)
    if not references:
        references = [p for p in results.points if p.is_mobilenet_v2 and p.has_metrics(results.objectives)]
    references = [r if r.trial_number is None
                  else dataclasses.replace(r, label=f"{r.baseline} (trial {r.trial_number})")
                  for r in references if r.architecture != chosen.architecture]
    if not references:
        return []
    records = trial_records(results.study)
    if any(needs_measuring(p, records) for p in (chosen, *references)):  # compared numbers are measured
        config_dict = stored_search_config(results.study)
        measure = measure or profiler_measure(config_dict)
        chosen, *references = [measured_point(p, results.folder, _profiler_fingerprint(config_dict), measure)
                               if needs_measuring(p, records) else p for p in (chosen, *references)]
    return summary_lines(compare([chosen], references, results.objectives))


__all__ = [
    "CACHE_DIR",
    "MOBILENET_V2_WIDTHS",
    "RESULT_FILE",
    "FingerprintSettings",
    "StudyComparison",
    "cache_key",
    "cached_comparisons",
    "cached_result",
    "compare_study",
    "comparison_lines",
    "discovered_front",
    "evaluate_grid",
    "evaluate_reference",
    "fingerprint",
    "front_resolutions",
    "grid_names",
    "load_cached",
    "measured_discovered_front",
    "reference_label",
    "settings_for_fingerprint",
]

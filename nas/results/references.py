"""Reference architectures (MobileNetV2 widths, EfficientNet-B0, ...) evaluated like the study's trials.

Each reference is adapted to the study's input (resolution, channels, classes) and goes through the
study's own evaluator (same data, proxy budget and profiler), then is cached in
``runs/<study>/baselines/<name>_r<resolution>/result.json`` together with a fingerprint of the
settings that produced it, so ``nas compare`` run again reuses it and a changed budget re-evaluates.
The result holds the same keys as a trial's user attributes (docs/interfaces.md "Study record").
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from nas.results.front import ModelPoint
from nas.record.points import point_from_attrs

logger = logging.getLogger(__name__)

CACHE_DIR = "baselines"
RESULT_FILE = "result.json"
# MobileNetV2 widths of the registry, smallest first (search_spaces.baselines).
MOBILENET_V2_WIDTHS = ("0.35", "0.5", "0.75", "1.0")


def cache_key(name: str, resolution: int) -> str:
    return f"{name}_r{int(resolution)}"


def fingerprint(settings: Mapping[str, Any]) -> str:
    """Short hash of the settings an evaluation depends on (dataset, training, profiler, input)."""
    text = json.dumps(settings, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def reference_label(name: str, resolution: int, resolutions: Sequence[int]) -> str:
    """``mobilenet_v2_0.35`` or, when several resolutions are compared, ``mobilenet_v2_0.35@96px``."""
    return f"{name}@{resolution}px" if len(set(resolutions)) > 1 else name


def _point(result: Mapping[str, Any]) -> ModelPoint:
    attrs = dict(result["attrs"])
    attrs["is_reference"] = True
    attrs["reference_name"] = result["name"]
    return point_from_attrs(None, attrs, label=result.get("label") or result["name"])


def load_cached(study_dir: str | Path, *, settings_fingerprint: str | None = None) -> list[ModelPoint]:
    """Every cached, successfully evaluated reference of a study (optionally only one fingerprint)."""
    folder = Path(study_dir) / CACHE_DIR
    points = []
    for path in sorted(folder.glob(f"*/{RESULT_FILE}")):
        try:
            result = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            logger.warning("ignoring unreadable cached reference %s: %s", path, exc)
            continue
        if settings_fingerprint is not None and result.get("fingerprint") != settings_fingerprint:
            continue
        if result.get("attrs", {}).get("accuracy_int8") is None:
            continue
        points.append(_point(result))
    return sorted(points, key=lambda p: (p.latency_ms_p50 or 0.0, p.label))


def cached_result(study_dir: str | Path, name: str, resolution: int, settings_fingerprint: str) -> dict[str, Any] | None:
    path = Path(study_dir) / CACHE_DIR / cache_key(name, resolution) / RESULT_FILE
    if not path.is_file():
        return None
    try:
        result = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    return result if result.get("fingerprint") == settings_fingerprint else None


def evaluate_reference(
    *,
    name: str,
    resolution: int,
    label: str,
    study_dir: str | Path,
    settings_fingerprint: str,
    evaluate: Callable[[Path], dict[str, Any]],
    refresh: bool = False,
) -> tuple[ModelPoint, bool]:
    """The cached result of ``name`` at ``resolution``, or ``evaluate(folder)`` stored as the new one.

    ``evaluate`` returns trial-shaped attributes (``accuracy_int8``, ``latency_ms_p50``,
    ``size_bytes``, ...); ``refresh`` skips the cache lookup. Returns (point, came_from_cache).
    A failed evaluation raises ``RuntimeError`` with its reason and is not cached.
    """
    cached = None if refresh else cached_result(study_dir, name, resolution, settings_fingerprint)
    if cached is not None:
        cached["label"] = label
        return _point(cached), True
    folder = Path(study_dir) / CACHE_DIR / cache_key(name, resolution)
    folder.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    attrs = evaluate(folder)
    if attrs.get("failure_reason"):
        raise RuntimeError(f"reference {label} could not be evaluated: {attrs['failure_reason']}")
    result = {
        "name": name,
        "resolution": int(resolution),
        "label": label,
        "fingerprint": settings_fingerprint,
        "seconds": time.perf_counter() - start,
        "attrs": attrs,
    }
    (folder / RESULT_FILE).write_text(json.dumps(result, indent=2, default=str) + "\n", encoding="utf-8")
    logger.info("reference %s recorded in %s (%.1f s)", label, folder, result["seconds"])
    return _point(result), False


def settings_for_fingerprint(config_dict: Mapping[str, Any], architecture: str) -> dict[str, Any]:
    """What a reference's result depends on: the architecture and the study's data, budget, profiler."""
    return {
        "architecture": architecture,
        "dataset": config_dict.get("dataset"),
        "training": config_dict.get("training"),
        "profiler": {k: v for k, v in (config_dict.get("profiler") or {}).items() if k != "token_file"},
    }


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


def evaluate_grid(
    *,
    study,
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
    from nas.record import study as record
    from nas.config.settings import ConstraintSettings, build_config
    from nas.trial.objectives import ObjectiveSet
    from nas.trial.pipeline import TrialPipeline
    from search_spaces import get_baseline
    from search_spaces.architecture import Architecture

    config_dict = study.user_attrs.get(record.STUDY_ATTR_CONFIG)
    if not config_dict:
        raise ValueError(f"study {study.study_name!r} has no stored search config; was it made by `nas search`?")
    config = build_config(config_dict)
    done = {t.user_attrs.get(record.ATTR_ARCHITECTURE): t for t in study.get_trials(deepcopy=False)
            if record.is_done(t) and t.user_attrs.get("accuracy_int8") is not None}
    # channels and classes come from a trial's architecture: no need to load the dataset to know them
    sample = next(iter(done), None)
    if sample is None:
        raise ValueError(f"study {study.study_name!r} has no evaluated trial yet")
    sample_arch = Architecture.from_string(sample)
    evaluator = None
    results = []
    for resolution in resolutions:
        for name in names:
            arch = get_baseline(name).with_input(
                resolution=resolution, channels=sample_arch.channels, num_classes=sample_arch.num_classes)
            text = arch.to_string()
            label = reference_label(name, resolution, resolutions)
            key = fingerprint(settings_for_fingerprint(config_dict, text))
            if text in done:  # evaluated by the study itself (its reference trial): copy, don't redo
                trial = done[text]
                point, _ = evaluate_reference(
                    name=name, resolution=resolution, label=label, study_dir=study_dir, settings_fingerprint=key,
                    evaluate=lambda folder, trial=trial: dict(trial.user_attrs) | {"source_trial": trial.number},
                    refresh=True)
                results.append((point, f"study trial {trial.number}"))
                continue

            def evaluate(folder: Path, arch=arch) -> dict[str, Any]:
                nonlocal evaluator
                if evaluator is None:
                    if evaluator_factory is None:
                        from nas.strategies._loop import make_evaluator

                        evaluator = make_evaluator(config)
                    else:
                        evaluator = evaluator_factory()
                pipeline = TrialPipeline(evaluator, ObjectiveSet.from_config(config),
                                         ConstraintSettings(None, None, None), folder)
                outcome = pipeline.run(arch, trial_number=0)
                return dict(outcome.user_attrs)

            point, cached = evaluate_reference(name=name, resolution=resolution, label=label, study_dir=study_dir,
                                               settings_fingerprint=key, evaluate=evaluate)
            results.append((point, "cache" if cached else "evaluated"))
    return results

"""A latency predictor for one device and one runtime setting, fitted on kernel and model samples.

nn-Meter (Zhang et al., MobiSys 2021) sums per-kernel predictions. Kernels measured alone run with
warm caches and without their neighbours' traffic, and here their sum was 40 % of a whole model's
latency (see docs/latency_predictor.md), so the fit is joint: every sample, a single-kernel model or a
whole calibration architecture, is a row ``latency = overhead + sum over its kernels of w . features``
with the features of :func:`nas.trial.predictor.kernels.kernel_features`; the weights (one set per
kernel kind and operator, non-negative) and the per-model overhead are fitted together by
non-negative least squares on relative error (``scipy.optimize.nnls``, rows divided by the measured
latency). Then, with enough whole models, either these weights or per-kind boosted trees on the
isolated kernels (:mod:`nas.trial.predictor.trees`, nn-Meter's tree models), whichever cross-validates better on the
whole models, get one multiplier per kernel kind fitted on the whole models (:func:`fit`). The size of
the int8 flatbuffer is fitted on the whole-model samples (bytes ~ parameters + per-kernel overhead).

The file is keyed (:class:`DeviceKey`) by what makes latencies comparable; :meth:`Predictor.check_key`
refuses another device or setting naming the differing key.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from nas.trial.predictor.kernels import Kernel, kernel_features, kernels_of
from nas.trial.predictor.regression import OVERHEAD, linear_ms, relative_nnls, row
from nas.trial.predictor.trees import KernelTrees

logger = logging.getLogger(__name__)

FORMAT_VERSION = 1
UNSEEN_POLICIES = ("warn", "refuse")
# Keys of the profiler result (docs/interfaces.md), read here to key the predictor.
_DEVICE, _PARAMS, _ARCHITECTURE = "device", "params", "architecture"


class PredictorError(ValueError):
    """A predictor cannot be used: missing, unreadable, for another device or setting, unseen kernels."""


@dataclasses.dataclass(frozen=True)
class DeviceKey:
    """What makes latencies comparable: device, runtime and version, threads, XNNPACK on/off."""

    cpu_model: str
    architecture: str
    runtime: str
    runtime_version: str
    threads: int
    use_xnnpack: bool

    @classmethod
    def from_result(cls, result: Mapping[str, Any]) -> DeviceKey:
        """The key of a profiler result (``docs/interfaces.md`` schema)."""
        device = result.get(_DEVICE) or {}
        runtime = result.get("runtime") or device.get("runtime") or {}
        params = result.get(_PARAMS) or {}
        return cls(cpu_model=str(device.get("cpu_model") or device.get("machine_model") or "unknown"),
                   architecture=str(device.get(_ARCHITECTURE) or "unknown"),
                   runtime=str(runtime.get("name") or "unknown"), runtime_version=str(runtime.get("version") or ""),
                   threads=int(params.get("threads", 1)), use_xnnpack=bool(params.get("use_xnnpack", True)))

    def differences(self, other: DeviceKey, *, known_only: bool = False) -> list[str]:
        """``key: this != other`` for every differing field (``known_only``: fields ``other`` reports)."""
        return [f"{f.name}: predictor {getattr(self, f.name)!r} != {getattr(other, f.name)!r}"
                for f in dataclasses.fields(self) if getattr(self, f.name) != getattr(other, f.name)
                and not (known_only and getattr(other, f.name) in ("unknown", ""))]


@dataclasses.dataclass(frozen=True)
class Sample:
    """One measured calibration model: its kernels, p50 latency and int8 size."""

    name: str
    kernels: tuple[Kernel, ...]
    latency_ms_p50: float
    size_bytes: int
    whole_model: bool
    params: int = 0

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "kernels": [k.to_json() for k in self.kernels],
                "p50_ms": self.latency_ms_p50,
                "bytes": self.size_bytes, "whole_model": self.whole_model, "n_params": self.params}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Sample:
        return cls(str(data["name"]), tuple(Kernel.from_json(k) for k in data["kernels"]),
                   float(data["p50_ms"]),
                   int(data["bytes"]), bool(data["whole_model"]), int(data.get("n_params", 0)))


@dataclasses.dataclass(frozen=True)
class Prediction:
    latency_ms_p50: float
    unseen: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True)
class Predictor:
    """Fitted weights (ms per unit of each feature), the device key and the features' seen ranges."""

    key: DeviceKey
    weights: Mapping[str, float]
    size_per_param: float = 1.0
    size_per_kernel: float = 0.0
    size_overhead_bytes: float = 0.0
    samples: int = 0
    scale: float = 1.0  # drift correction applied after a verify-refit (1.0 = as calibrated)
    # A drift refit (predicted+verify): the calibrated predictor it was refitted from, and on how
    # many verified whole-model measurements (empty / 0: as calibrated).
    refitted_from: str = ""
    refit_measurements: int = 0
    # Per-kind boosted trees on the isolated kernels, when they beat the linear weights on the calibration's
    # whole models (:func:`fit`); kinds they predict use ``trees_multipliers[kind]`` times the trees, the
    # others and the per-model overhead use ``weights``.
    trees: KernelTrees | None = None
    trees_multipliers: Mapping[str, float] = dataclasses.field(default_factory=dict)
    # Cross-validated share within +-10 % on the calibration's whole models of each kernel model tried.
    selection: Mapping[str, float] = dataclasses.field(default_factory=dict)

    @property
    def kernel_model(self) -> str:
        """``trees`` (per-kind boosted trees) or ``linear`` (the joint regression alone)."""
        return "trees" if self.trees is not None else "linear"

    def predict_kernels(self, kernels: Sequence[Kernel], *, unseen: str = "warn") -> Prediction:
        features = row(kernels)
        missing = tuple(sorted(name for name, value in features.items() if value and name not in self.weights))
        if missing and unseen == "refuse":
            raise PredictorError(f"kernels never seen in calibration: {', '.join(missing)}")
        if missing:
            logger.warning("kernels never seen in calibration, predicted without them: %s", ", ".join(missing))
        return Prediction(float(sum(_contributions(self, kernels).values())), missing)

    def predict(self, arch: Any, *, unseen: str = "warn") -> Prediction:
        """Predicted p50 latency (ms) of the int8 model of ``arch`` (an ``Architecture``)."""
        return self.predict_kernels(kernels_of(arch), unseen=unseen)

    def predict_size_bytes(self, arch: Any) -> int:
        """Fitted int8 flatbuffer size: parameters (1 byte each) + per-kernel and per-model overhead."""
        from search_spaces import arch_cost

        params = arch_cost(arch).params
        return int(round(self.size_per_param * params + self.size_per_kernel * len(kernels_of(arch))
                         + self.size_overhead_bytes))

    def check_key(self, key: DeviceKey, *, known_only: bool = False) -> None:
        """Refuse a device or setting other than the calibrated one, naming what differs."""
        differences = self.key.differences(key, known_only=known_only)
        if differences:
            raise PredictorError("predictor was calibrated for another device or setting: " + "; ".join(differences))

    def with_scale(self, scale: float) -> Predictor:
        return dataclasses.replace(self, scale=float(scale))

    # ----- file form ----------------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["weights"] = dict(self.weights)
        data["trees"] = self.trees.to_json() if self.trees is not None else None
        data["format_version"] = FORMAT_VERSION
        return data

    def save(self, path: str | Path) -> Path:
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(target.suffix + ".tmp")
        tmp.write_text(json.dumps(self.to_json(), indent=1, sort_keys=True))
        tmp.replace(target)
        return target

    @classmethod
    def load(cls, path: str | Path) -> Predictor:
        source = Path(path)
        if not source.is_file():
            raise PredictorError(f"no latency predictor at {source}: run `nas latency calibrate` first")
        try:
            data = json.loads(source.read_text())
            if data.pop("format_version", None) != FORMAT_VERSION:
                raise ValueError(f"format_version is not {FORMAT_VERSION}")
            data["key"] = DeviceKey(**data["key"])
            data["trees"] = KernelTrees.from_json(data["trees"]) if data.get("trees") else None
            return cls(**data)
        except (ValueError, TypeError, KeyError) as exc:
            raise PredictorError(f"{source} is not a latency predictor: {exc}") from None


#: Whole models a calibration needs before its second stage is fitted (fewer: the joint fit alone).
MIN_WHOLE_MODELS = 10


def fit(samples: Sequence[Sample], key: DeviceKey) -> Predictor:
    """Two stages. First, joint non-negative least squares on relative error over kernel and whole-model
    samples (nn-Meter's kernel-level regression, Zhang et al., MobiSys 2021). Second, with at least
    ``MIN_WHOLE_MODELS`` whole models among the samples, one multiplier per kernel kind and one for the
    per-model overhead fitted on those whole models (:func:`_fit_multipliers`): a kernel inside a model
    does not cost what it costs alone (on this machine, quiet, ~1.3x), and the many kernel rows would
    otherwise outweigh the few whole-model rows (docs/latency_predictor.md, 7 Dec run). The second stage
    is fitted over two kernel models, the linear weights and per-kind boosted trees on the isolated kernels
    (:class:`~nas.trial.predictor.trees.KernelTrees`), and the one with the larger
    share within +-10 % in a 5-fold cross-validation over the whole models is kept (``selection``)."""
    if not samples:
        raise PredictorError("no calibration samples to fit")
    fitted = relative_nnls([row(s.kernels) for s in samples], [s.latency_ms_p50 for s in samples])
    wholes = [s for s in samples if s.whole_model]
    linear = Predictor(key=key, weights=fitted, samples=len(samples), **_fit_size(wholes))
    if len(wholes) < MIN_WHOLE_MODELS:
        return linear
    trees = KernelTrees(tuple((s.kernels[0], s.latency_ms_p50) for s in samples
                              if not s.whole_model and len(s.kernels) == 1))
    candidates = [linear] + ([dataclasses.replace(linear, trees=trees)] if trees.kinds else [])
    measured = [(s.kernels, s.latency_ms_p50) for s in wholes]
    parts = {c.kernel_model: _parts(c, measured) for c in candidates}
    selection = {name: _cross_validated_within(p) for name, p in parts.items()}
    best = max(candidates, key=lambda c: selection[c.kernel_model])
    logger.info("latency predictor: %s kernel model (cross-validated share within +-10%% on %d whole models: %s)",
                best.kernel_model, len(wholes), ", ".join(f"{k} {v:.0%}" for k, v in selection.items()))
    fitted_best = _with_multipliers(best, *_fit_multipliers(parts[best.kernel_model]))
    return dataclasses.replace(fitted_best, selection=selection)


def _cross_validated_within(parts: Sequence[tuple[Mapping[str, float], float]], folds: int = 5) -> float:
    """Share of whole models ``(per-kind predicted ms, measured ms)`` predicted within +-10 % by second
    stages fitted on the other folds."""
    hits = 0
    for fold in range(folds):
        train = [p for i, p in enumerate(parts) if i % folds != fold]
        multipliers, ratio = _fit_multipliers(train)
        for contributions, latency in parts[fold::folds]:
            predicted = sum(v * multipliers.get(kind, ratio) for kind, v in contributions.items())
            hits += abs(predicted / latency - 1.0) <= 0.10
    return hits / len(parts)


def _fit_size(models: Sequence[Sample]) -> dict[str, float]:
    if len(models) < 3:
        return {"size_per_param": 1.0, "size_per_kernel": 0.0, "size_overhead_bytes": 0.0}
    design = np.array([[m.params, len(m.kernels), 1.0] for m in models], dtype=float)
    target = np.array([m.size_bytes for m in models], dtype=float)
    (per_param, per_kernel, overhead), *_ = np.linalg.lstsq(design, target, rcond=None)
    return {"size_per_param": float(per_param), "size_per_kernel": float(per_kernel),
            "size_overhead_bytes": float(overhead)}


def relative_errors(predictor: Predictor, samples: Sequence[Sample]) -> list[float]:
    """``predicted / measured - 1`` of each sample."""
    return [predictor.predict_kernels(s.kernels).latency_ms_p50 / s.latency_ms_p50 - 1.0 for s in samples]


#: Weight of the prior that keeps each kernel kind's multiplier near the global drift ratio, in
#: measurements' worth per kind: 0.1 lets 20 whole models separate a kind that drifted alone
#: (tests/nas/trial/test_latency_predictor.py) and keeps kinds absent from them at the global ratio.
REFIT_PRIOR_WEIGHT = 0.1


def _contributions(predictor: Predictor, kernels: Sequence[Kernel]) -> dict[str, float]:
    """Predicted ms of each kernel kind (``model`` = the per-model overhead), the scale folded in."""
    alone = predictor.trees.predict(kernels) if predictor.trees is not None else np.full(len(kernels), np.nan)
    parts: dict[str, float] = {"model": predictor.weights.get(OVERHEAD, 0.0) * predictor.scale}
    for kernel, ms in zip(kernels, alone):
        if np.isnan(ms):
            ms = linear_ms(predictor.weights, kernel_features(kernel))
        else:
            ms *= predictor.trees_multipliers.get(kernel.kind, 1.0)
        parts[kernel.kind] = parts.get(kernel.kind, 0.0) + float(ms) * predictor.scale
    return parts


def _parts(predictor: Predictor, measured: Sequence[tuple[Sequence[Kernel], float]]
           ) -> list[tuple[dict[str, float], float]]:
    return [(_contributions(predictor, kernels), float(latency)) for kernels, latency in measured]


def _fit_multipliers(parts: Sequence[tuple[Mapping[str, float], float]], prior_weight: float = REFIT_PRIOR_WEIGHT
                     ) -> tuple[dict[str, float], float]:
    """One multiplier per kernel kind (and ``model``), fitted on whole models' per-kind predicted ms and
    measured ms by non-negative least squares on relative error, with ``prior_weight`` rows pulling every
    multiplier toward the global ratio (median measured / predicted): a ridge prior (Hoerl & Kennard 1970),
    so a few measurements give a global rescale and more separate the kinds. Returns the multipliers and
    the global ratio (the multiplier of kinds absent from ``parts``)."""
    from scipy.optimize import nnls

    kinds = sorted({kind for part, _ in parts for kind, value in part.items() if value})
    y = np.array([latency for _, latency in parts], dtype=float)
    predicted = np.array([sum(part.values()) for part, _ in parts])
    ratio = float(np.median(y / predicted))
    data = np.array([[part.get(kind, 0.0) * ratio for kind in kinds] for part, _ in parts]) / y[:, None]
    prior = np.sqrt(prior_weight) * np.eye(len(kinds))
    target = np.concatenate([np.ones(len(y)), np.sqrt(prior_weight) * np.ones(len(kinds))])
    relative, _ = nnls(np.vstack([data, prior]), target)
    return {kind: ratio * float(m) for kind, m in zip(kinds, relative)}, ratio


def _with_multipliers(predictor: Predictor, multipliers: Mapping[str, float], default: float) -> Predictor:
    """``predictor`` with each kind's weights and trees multiplier times its multiplier, the scale folded in."""
    def times(kind: str) -> float:
        return predictor.scale * multipliers.get(kind, default)

    weights = {name: w * times(name.split(":")[0]) for name, w in predictor.weights.items()}
    trees = {kind: predictor.trees_multipliers.get(kind, 1.0) * times(kind)
             for kind in (predictor.trees.kinds if predictor.trees is not None else ())}
    return dataclasses.replace(predictor, weights=weights, trees_multipliers=trees, scale=1.0)


def refit_on_models(predictor: Predictor, measured: Sequence[tuple[Sequence[Kernel], float]],
                    *, source: str = "", prior_weight: float = REFIT_PRIOR_WEIGHT) -> Predictor:
    """The predictor refitted on whole-model measurements ``(kernels, measured p50 ms)`` of a drifted device.

    The calibrated per-kernel models keep their shape; one multiplier per kernel kind and one for the
    per-model overhead are fitted by non-negative least squares on relative error, with ``prior_weight``
    rows pulling every multiplier toward the global ratio (median measured / predicted), so a few
    measurements give a global rescale and more of them separate the kinds that drifted differently
    (a ridge prior, Hoerl & Kennard 1970). The kernel samples of the calibration are not reused: they
    describe the device before the drift, and a few whole models cannot determine every feature weight.
    """
    if not measured:
        raise PredictorError("no verified measurements to refit the predictor on")
    refitted = _with_multipliers(predictor, *_fit_multipliers(_parts(predictor, measured), prior_weight))
    return dataclasses.replace(refitted, refitted_from=source or predictor.refitted_from,
                               refit_measurements=len(measured))

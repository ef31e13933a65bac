"""Where a candidate's latency comes from: the slot the trial pipeline measures cost through.

Once-for-All and nn-Meter keep the search apart from how latency is obtained (a device, a table, a
predictor). Here a :class:`LatencySource` returns the cheap measurement of a candidate, latency
included; the search is configured with ``latency.source`` and the pipeline records the source's
name in each trial (``TrialRecord.latency_source``): :class:`MeasuredLatency` (the profiler),
:class:`PredictedLatency` (a per-device predictor calibrated by ``nas latency calibrate``, nn-Meter's
idea; no conversion or measurement in the gate) and :class:`VerifiedPrediction` (predicted, and
measured for the candidates that may enter the front and a sample of the rest; residuals in the
trial's ``profiler`` record; a drift refits the predictor on them, persisted beside the study, with a
warning). Issue 15,
docs/latency_predictor.md.
"""

from __future__ import annotations

import abc
import json
import logging
import math
import random
import statistics
from pathlib import Path
from typing import ClassVar

from nas.config.settings import LatencySettings, SearchConfig
from nas.trial.predictor.kernels import Kernel, kernels_of
from nas.trial.predictor.model import DeviceKey, Predictor, PredictorError, refit_on_models
from nas.trial.protocol import ArchitectureLike, CandidateEvaluator, CostMeasurement

logger = logging.getLogger(__name__)
#: Verified trials over which the drift (median |residual|) is judged and the refit is fitted.
DRIFT_WINDOW = 10
#: Fewest verified measurements a drift is judged on.
MIN_REFIT_MEASUREMENTS = 3
#: Folder in the study directory with the verified measurements and the drift-refitted predictor.
REFIT_DIR = "latency_verify"
REFIT_FILE = "predictor_refit.json"
VERIFIED_FILE = "verified.jsonl"
#: Every prediction (architecture, latency, size), so a resumed search judges "may enter the front"
#: against the candidates seen before it stopped, not against an empty list.
PREDICTED_FILE = "predicted.jsonl"
#: Key of a trial's ``profiler`` record: True when a ``predicted+verify`` trial's latency was measured.
VERIFIED_KEY = "verified"
_DEVICE = "device"  # key of the profiler result the device key is read from

DEFAULT_LATENCY_SOURCE = "measured"


class LatencySource(abc.ABC):
    """Gives the cost (size, latency) of a candidate before training."""

    #: The ``latency.source`` value that selects this source (recorded in every trial).
    name: ClassVar[str]

    @abc.abstractmethod
    def measure_cost(self, evaluator: CandidateEvaluator, arch: ArchitectureLike, trial_dir: Path) -> CostMeasurement:
        """Size and latency of ``arch``; a failure is returned (``failure_reason``), not raised."""


class MeasuredLatency(LatencySource):
    """The profiler measures the untrained int8 model (local, or an agent on the device).

    Latency depends on the graph and its int8 kernels, not on the weights, so the untrained model's
    latency is the trained model's (MnasNet measures before training too, Tan et al. 2019).
    """

    name = "measured"

    def measure_cost(self, evaluator: CandidateEvaluator, arch: ArchitectureLike, trial_dir: Path) -> CostMeasurement:
        return evaluator.measure_cost(arch, trial_dir)


def _architecture_of(text: str):  # noqa: ANN202 - search_spaces.Architecture
    from search_spaces import Architecture

    return Architecture.from_string(text)


def _architecture(arch: ArchitectureLike):  # noqa: ANN202 - search_spaces.Architecture
    from search_spaces import Architecture

    return arch if isinstance(arch, Architecture) else Architecture.from_string(arch.to_string())


class PredictedLatency(LatencySource):
    """Latency from a calibrated predictor; size from its fitted size model; nothing built or measured.

    The trained model's real int8 size replaces the estimate in the record after training (the
    estimate stays as ``size_bytes_untrained``).
    """

    name = "predicted"

    def __init__(self, settings: LatencySettings, *, threads: int | None = None,
                 use_xnnpack: bool | None = None) -> None:
        if not settings.predictor:
            raise PredictorError(f"latency.source {self.name!r} needs latency.predictor (nas latency calibrate)")
        self.path = settings.predictor
        self.predictor = Predictor.load(settings.predictor)
        self.settings = settings
        key = self.predictor.key
        wanted = DeviceKey(key.cpu_model, key.architecture, key.runtime, key.runtime_version,
                           key.threads if threads is None else threads,
                           key.use_xnnpack if use_xnnpack is None else use_xnnpack)
        self.predictor.check_key(wanted)

    def predict_cost(self, arch: ArchitectureLike) -> CostMeasurement:
        from search_spaces import arch_cost

        architecture = _architecture(arch)
        try:
            prediction = self.predictor.predict(architecture, unseen=self.settings.unseen_kernels)
        except PredictorError as exc:
            return CostMeasurement(failure_reason=f"latency prediction refused: {exc}")
        cost = arch_cost(architecture)
        return CostMeasurement(
            size_bytes=self.predictor.predict_size_bytes(architecture),
            latency_ms={"p50": prediction.latency_ms_p50}, params=int(cost.params), macs=int(cost.macs),
            profiler={"measured_by": "predictor", "predictor": str(self.path),
                      "unseen_kernels": list(prediction.unseen)})

    def measure_cost(self, evaluator: CandidateEvaluator, arch: ArchitectureLike, trial_dir: Path) -> CostMeasurement:
        return self.predict_cost(arch)


class VerifiedPrediction(PredictedLatency):
    """Predicted for every candidate; measured for those non-dominated in (latency, size) so far and a
    seeded ``verify_fraction`` of the rest. A verified trial records the measurement, with the
    prediction and the residual (measured / predicted - 1) in its ``profiler`` record.

    Drift: when the median |residual| of the last :data:`DRIFT_WINDOW` verified measurements (against
    the predictor in use) exceeds ``drift_threshold``, the predictor is refitted on them
    (:func:`~nas.trial.predictor.model.refit_on_models`: per-kernel-kind multipliers and the per-model
    overhead), a warning is logged, and the refit is written beside the study
    (``<study>/latency_verify/predictor_refit.json``; the user's calibration file is never written).
    Verified measurements are appended to ``verified.jsonl`` there and predictions to
    ``predicted.jsonl``, so a resumed search goes on with the refitted predictor, the measurements
    gathered before it stopped, and the same notion of what may enter the front. Both are kept one
    entry per architecture (the latest): a retried trial replaces its measurement, it does not count twice.
    """

    name = "predicted+verify"

    def __init__(self, settings: LatencySettings, *, seed: int = 0, study_dir: Path | None = None,
                 **kwargs: bool | int | None) -> None:
        super().__init__(settings, **kwargs)
        self.rng = random.Random(seed)
        self.points: dict[str, tuple[float, int]] = {}  # arch string -> predicted (latency ms, size bytes)
        self.calibrated_path = str(Path(self.path).resolve())
        self.refit_dir = None if study_dir is None else Path(study_dir) / REFIT_DIR
        # arch string -> (kernels, measured p50 ms); insertion order is measurement order (latest last)
        self._verified: dict[str, tuple[tuple[Kernel, ...], float]] = {}
        if self.refit_dir is not None:
            self._resume()

    @property
    def verified(self) -> list[tuple[tuple[Kernel, ...], float]]:
        """The verified measurements, one per architecture (the latest), oldest first."""
        return list(self._verified.values())

    def _log_entries(self, name: str) -> list[dict]:
        log = self.refit_dir / name
        if not log.is_file():
            return []
        entries = []
        for line in log.read_text().splitlines():
            try:
                entries.append(json.loads(line))
            except ValueError:
                logger.warning("ignoring an incomplete line of %s", log)
        return entries

    def _resume(self) -> None:
        """Go on with the predictions, verified measurements and refit a previous run of the study left."""
        for entry in self._log_entries(PREDICTED_FILE):
            try:
                self.points[entry["arch"]] = (float(entry["predicted_p50_ms"]), int(entry["predicted_int8_bytes"]))
            except (KeyError, TypeError, ValueError):
                logger.warning("ignoring an incomplete line of %s", self.refit_dir / PREDICTED_FILE)
        for entry in self._log_entries(VERIFIED_FILE):
            try:
                kernels = tuple(kernels_of(_architecture_of(entry["arch"])))
                self._verified.pop(entry["arch"], None)
                self._verified[entry["arch"]] = (kernels, float(entry["measured_p50_ms"]))
            except (ValueError, KeyError, TypeError):
                logger.warning("ignoring an incomplete line of %s", self.refit_dir / VERIFIED_FILE)
        refit = self.refit_dir / REFIT_FILE
        if not refit.is_file():
            return
        previous = Predictor.load(refit)
        if previous.refitted_from != self.calibrated_path or previous.key != self.predictor.key:
            logger.warning("%s was refitted from another predictor (%s), not %s: not used", refit,
                           previous.refitted_from, self.calibrated_path)
            return
        logger.info("resuming with the drift-refitted latency predictor %s (%d measurements)", refit,
                    previous.refit_measurements)
        self.predictor, self.path = previous, refit

    def _may_enter_front(self, arch_text: str, latency_ms: float, size_bytes: int) -> bool:
        """Not dominated-or-equalled in (latency, size) by another architecture predicted so far."""
        return not any(lat <= latency_ms and size <= size_bytes
                       for other, (lat, size) in self.points.items() if other != arch_text)

    def _append(self, name: str, entry: dict) -> None:
        if self.refit_dir is not None:
            self.refit_dir.mkdir(parents=True, exist_ok=True)
            with open(self.refit_dir / name, "a") as handle:
                handle.write(json.dumps(entry) + "\n")

    def measure_cost(self, evaluator: CandidateEvaluator, arch: ArchitectureLike, trial_dir: Path) -> CostMeasurement:
        predicted = self.predict_cost(arch)
        if predicted.failure_reason is not None:
            return predicted
        latency, size, text = predicted.latency_ms_p50, predicted.size_bytes, arch.to_string()
        verify = self._may_enter_front(text, latency, size) or self.rng.random() < self.settings.verify_fraction
        if text not in self.points:
            self.points[text] = (latency, size)
            self._append(PREDICTED_FILE, {"arch": text, "predicted_p50_ms": latency, "predicted_int8_bytes": size})
        if not verify:
            predicted.profiler[VERIFIED_KEY] = False
            return predicted
        measured = evaluator.measure_cost(arch, trial_dir)
        if measured.failure_reason is not None or measured.latency_ms_p50 is None:
            return measured
        if measured.device:
            self.predictor.check_key(DeviceKey.from_result({_DEVICE: measured.device, **measured.profiler}),
                                    known_only=True)
        residual = measured.latency_ms_p50 / latency - 1.0
        measured.profiler.update({VERIFIED_KEY: True}, latency_ms_p50_predicted=latency, latency_residual=residual,
                                 predictor=str(self.path))
        self._remember(arch, measured.latency_ms_p50)
        self._refit_if_drifting()
        return measured

    def _remember(self, arch: ArchitectureLike, latency_ms_p50: float) -> None:
        """Keep the measurement, replacing an earlier one of the same architecture (a retried trial)."""
        text = arch.to_string()
        self._verified.pop(text, None)
        self._verified[text] = (tuple(kernels_of(_architecture(arch))), float(latency_ms_p50))
        self._append(VERIFIED_FILE, {"arch": text, "measured_p50_ms": latency_ms_p50})

    def drift(self) -> float:
        """Median |measured / predicted - 1| of the last :data:`DRIFT_WINDOW` verified measurements."""
        recent = self.verified[-DRIFT_WINDOW:]
        return statistics.median(abs(latency / self.predictor.predict_kernels(kernels).latency_ms_p50 - 1.0)
                                 for kernels, latency in recent)

    def _drift_onset(self, recent: list[tuple[tuple[Kernel, ...], float]]) -> int:
        """Where the drift began in ``recent``: the split minimising the squared deviation of the log
        residuals from their mean on either side (a least-squares change point, Hinkley 1970), leaving
        at least :data:`MIN_REFIT_MEASUREMENTS` after it; measurements before it show the old device."""
        logs = [math.log(latency / self.predictor.predict_kernels(kernels).latency_ms_p50)
                for kernels, latency in recent]

        def spread(part: list[float]) -> float:
            return sum((x - statistics.fmean(part)) ** 2 for x in part) if part else 0.0

        splits = range(len(logs) - MIN_REFIT_MEASUREMENTS + 1)
        return min(splits, key=lambda t: (spread(logs[:t]) + spread(logs[t:]), t))

    def _refit_if_drifting(self) -> None:
        recent = self.verified[-DRIFT_WINDOW:]
        if len(recent) < MIN_REFIT_MEASUREMENTS:
            return
        drift = self.drift()
        if drift <= self.settings.drift_threshold:
            return
        since = recent[self._drift_onset(recent):]
        self.predictor = refit_on_models(self.predictor, since, source=self.calibrated_path)
        after = self.drift()
        if self.refit_dir is not None:
            self.path = self.predictor.save(self.refit_dir / REFIT_FILE)
        logger.warning("latency predictor drifted (median |residual| %.1f%% over the last %d verified trials "
                       "> %.1f%%): refitted on the %d since the drift began (median |residual| now %.1f%%), "
                       "saved to %s; later trials use it", 100 * drift, len(recent),
                       100 * self.settings.drift_threshold, len(since), 100 * after, self.path)


def latency_was_measured(latency_source: str | None, profiler: dict | None) -> bool:
    """Whether a trial's latency was measured on the device: the ``measured`` source (or a record older
    than ``latency_source``), or a ``predicted+verify`` trial that was verified."""
    if latency_source in (None, MeasuredLatency.name):
        return True
    return latency_source == VerifiedPrediction.name and bool((profiler or {}).get(VERIFIED_KEY))


#: ``latency.source`` name -> source class.
LATENCY_SOURCES: dict[str, type[LatencySource]] = {
    MeasuredLatency.name: MeasuredLatency, PredictedLatency.name: PredictedLatency,
    VerifiedPrediction.name: VerifiedPrediction}


def make_latency_source(name: str = DEFAULT_LATENCY_SOURCE, settings: LatencySettings | None = None,
                        **kwargs: int | bool | Path | None) -> LatencySource:
    """The latency source registered as ``name`` (predicted sources read ``settings.predictor``)."""
    if name not in LATENCY_SOURCES:
        raise ValueError(f"latency source {name!r} is not one of {', '.join(LATENCY_SOURCES)}")
    if name == MeasuredLatency.name:
        return MeasuredLatency()
    return LATENCY_SOURCES[name](settings or LatencySettings(source=name), **kwargs)


def latency_source_for(config: SearchConfig) -> LatencySource:
    """The source of a search config's ``latency.source`` (a predictor must match its threads/XNNPACK)."""
    kwargs = {} if config.latency.source == MeasuredLatency.name else {
        "threads": config.profiler.threads, "use_xnnpack": config.profiler.use_xnnpack}
    if config.latency.source == VerifiedPrediction.name:
        kwargs.update(seed=config.study.seed, study_dir=config.study.study_dir)
    return make_latency_source(config.latency.source, config.latency, **kwargs)

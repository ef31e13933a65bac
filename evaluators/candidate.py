"""The two interfaces a search calls: the cheap one (size, latency; no training) and the expensive
one (proxy training, int8 conversion, metrics through the interpreter).

As in NNI (a cheap ``Profiler`` apart from the ``Evaluator``) and MnasNet's latency-first search, a
search gates on :class:`CheapEvaluator` before it pays for :class:`TrainingEvaluator`. Neither raises
for a bad candidate: the result has ``status="failed"`` and a ``failure_reason``; a measured one has
``status="complete"``, the word the study's trial record uses.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Final, Literal

from evaluators.datasets import Dataset, DatasetConfig, load_dataset
from evaluators.training import RungTraining, TrainConfig

logger = logging.getLogger(__name__)

UNTRAINED_TFLITE_NAME = "model_int8_untrained.tflite"
TFLITE_INT8_NAME = "model_int8.tflite"
KERAS_MODEL_NAME = "model.keras"

EvaluationStatus = Literal["complete", "failed"]
COMPLETE: Final = "complete"
FAILED: Final = "failed"


def runtime_versions() -> dict[str, str]:
    """Versions of TensorFlow, tf_keras and the LiteRT interpreter used for the numbers."""
    from edge_profiler.litert import load_runtime
    from search_spaces.keras_backend import keras, tf

    runtime = load_runtime().info
    return {"tensorflow": tf.__version__, "tf_keras": keras.__version__,
            "litert": f"{runtime.name} {runtime.version}"}


def _json_safe(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if hasattr(value, "item") and callable(value.item):  # NumPy scalars
        return _json_safe(value.item())
    if isinstance(value, Path):
        return str(value)
    return value


def _default_profiler() -> Any:
    from edge_profiler.client import LocalProfiler

    return LocalProfiler()


class _RecordMixin:
    """What both result records share: status, the p50 of the profiler's result, the JSON form."""

    status: EvaluationStatus
    latency: dict[str, Any] | None

    @property
    def ok(self) -> bool:
        """True when the candidate was measured (``status == "complete"``)."""
        return self.status == COMPLETE

    @property
    def latency_ms_p50(self) -> float | None:
        return (self.latency or {}).get("latency_ms", {}).get("p50")

    def to_dict(self) -> dict[str, Any]:
        record = _json_safe(dataclasses.asdict(self))
        record["latency_ms_p50"] = self.latency_ms_p50
        return record


@dataclasses.dataclass
class CheapResult(_RecordMixin):
    """Size and latency of the untrained int8 model. ``latency`` is the profiler's whole result."""

    architecture: str
    status: EvaluationStatus = COMPLETE
    failure_reason: str | None = None
    failure_stage: str | None = None
    profiler_error_kind: str | None = None
    size_bytes: int | None = None
    latency: dict[str, Any] | None = None
    params: int | None = None
    macs: int | None = None
    timings_s: dict[str, float] = dataclasses.field(default_factory=dict)
    artifacts: dict[str, str] = dataclasses.field(default_factory=dict)
    versions: dict[str, str] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class CandidateResult(_RecordMixin):
    """Everything measured for one trained candidate (JSON-ready through :meth:`to_dict`).

    ``accuracy_int8`` is the deployed int8 model's accuracy through the LiteRT interpreter;
    ``accuracy_gap = keras_accuracy - accuracy_int8`` (positive: quantization lost accuracy).
    """

    architecture: str
    status: EvaluationStatus = COMPLETE
    failure_reason: str | None = None
    failure_stage: str | None = None
    profiler_error_kind: str | None = None
    accuracy_int8: float | None = None
    keras_accuracy: float | None = None
    accuracy_gap: float | None = None
    metrics_int8: dict[str, Any] = dataclasses.field(default_factory=dict)
    size_bytes: int | None = None
    latency: dict[str, Any] | None = None
    params: int | None = None
    macs: int | None = None
    timings_s: dict[str, float] = dataclasses.field(default_factory=dict)
    versions: dict[str, str] = dataclasses.field(default_factory=dict)
    artifacts: dict[str, str] = dataclasses.field(default_factory=dict)
    training: dict[str, Any] = dataclasses.field(default_factory=dict)
    dataset: dict[str, Any] = dataclasses.field(default_factory=dict)
    train_config: dict[str, Any] = dataclasses.field(default_factory=dict)
    conversion: dict[str, Any] = dataclasses.field(default_factory=dict)  # format and converter details
    # Training in rungs (early stopping): Keras validation accuracy at each rung reached, and the
    # rung where the training was stopped (None: trained to the end of its budget).
    rung_accuracies: dict[int, float] = dataclasses.field(default_factory=dict)
    stopped_at_epoch: int | None = None

    def to_json(self, **kwargs: Any) -> str:
        return json.dumps(self.to_dict(), **kwargs)


class _Failed(Exception):
    def __init__(self, stage: str, reason: str, kind: str | None = None) -> None:
        super().__init__(reason)
        self.stage, self.reason, self.kind = stage, reason, kind


class _Timer:
    def __init__(self, timings: dict[str, float], name: str) -> None:
        self.timings, self.name = timings, name

    def __enter__(self) -> _Timer:
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.timings[self.name] = round(time.perf_counter() - self.start, 3)


def _save_keras_model(model: Any, workdir: Path, result: CandidateResult, timings: dict[str, float]) -> None:
    """Save ``model.keras`` beside the candidate's other artifacts; a failure is logged, not the candidate's."""
    with _Timer(timings, "save"):
        keras_path = workdir / KERAS_MODEL_NAME
        try:
            model.save(keras_path)
            result.artifacts["keras_model"] = str(keras_path)
        except Exception as exc:  # an artifact problem, not a bad candidate
            logger.warning("could not save the Keras model to %s: %s", keras_path, exc)


def _build(arch: Any, bn_momentum: float | None, seed: int) -> tuple[Any, int, int]:
    from search_spaces import arch_cost, build_model
    from search_spaces.keras_backend import keras

    keras.backend.clear_session()  # a long search must not accumulate graphs of earlier candidates
    keras.utils.set_random_seed(seed)
    try:
        cost = arch_cost(arch)
        model = build_model(arch, bn_momentum=0.9 if bn_momentum is None else bn_momentum)
    except Exception as exc:  # ArchitectureError, ValueError, TF errors: the candidate is bad
        raise _Failed("build", f"cannot build {arch}: {exc}") from exc
    return model, int(cost.params), int(cost.macs)


def score_int8(convert_model: Callable[[], Any], dataset: Dataset, workdir: Path, result: CandidateResult) -> Path:
    """The int8 half of every evaluator: ``convert_model()`` (timed as ``convert``), the model written as
    ``TFLITE_INT8_NAME`` in ``workdir``, its accuracy on the validation split through LiteRT (``evaluate``);
    size, accuracy, metrics and the float-to-int8 gap recorded on ``result``. Returns the .tflite path."""
    from evaluators.errors import ConversionError, MetricsError
    from evaluators.metrics import evaluate_tflite

    timings = result.timings_s
    with _Timer(timings, "convert"):
        try:
            converted = convert_model()
        except ConversionError as exc:
            raise _Failed("convert", str(exc)) from exc
    result.conversion = {"format": converted.fmt, **converted.details}
    tflite_path = converted.write(workdir / TFLITE_INT8_NAME)
    result.artifacts["tflite_int8"] = str(tflite_path)
    result.size_bytes = converted.size_bytes
    with _Timer(timings, "evaluate"):
        try:
            metrics = evaluate_tflite(converted.tflite_bytes, dataset.val, dataset.class_names)
        except MetricsError as exc:
            raise _Failed("evaluate", str(exc)) from exc
    result.accuracy_int8 = metrics.accuracy
    result.metrics_int8 = metrics.to_dict()
    if result.keras_accuracy is not None:
        result.accuracy_gap = result.keras_accuracy - metrics.accuracy
    return tflite_path


def _profile(profiler: Any, path: Path, params: Mapping[str, Any]) -> dict[str, Any]:
    try:
        return profiler.measure(path, **params)
    except Exception as exc:  # ProfilerError (with .kind) or an unexpected client error
        raise _Failed("profile", f"latency measurement failed: {exc}", getattr(exc, "kind", None)) from exc


def _arch_string(arch: Any) -> str:
    return arch.to_string() if hasattr(arch, "to_string") else str(arch)


class CheapEvaluator:
    """Size and latency without training: build, int8 with random calibration, profile.

    ``profiler`` implements ``measure(model, **profile_params) -> dict`` (docs/interfaces.md);
    None means ``edge_profiler.client.LocalProfiler()``.
    """

    def __init__(self, profiler: Any = None, profile_params: Mapping[str, Any] | None = None, *,
                 calibration_samples: int = 16, seed: int = 0) -> None:
        self.profiler = profiler if profiler is not None else _default_profiler()
        self.profile_params = dict(profile_params or {})
        self.calibration_samples = calibration_samples
        self.seed = seed

    def evaluate(self, arch: Any, workdir: str | Path) -> CheapResult:
        from evaluators.conversion import convert
        from evaluators.errors import ConversionError

        workdir = Path(workdir)
        workdir.mkdir(parents=True, exist_ok=True)
        result = CheapResult(architecture=_arch_string(arch), versions=runtime_versions())
        start = time.perf_counter()
        try:
            with _Timer(result.timings_s, "build"):
                model, result.params, result.macs = _build(arch, None, self.seed)
            with _Timer(result.timings_s, "convert"):
                try:
                    converted = convert(model, "int8", calibration="random",
                                        calibration_samples=self.calibration_samples, seed=self.seed)
                except ConversionError as exc:
                    raise _Failed("convert", str(exc)) from exc
            path = converted.write(workdir / UNTRAINED_TFLITE_NAME)
            result.size_bytes = converted.size_bytes
            result.artifacts["tflite_int8_untrained"] = str(path)
            with _Timer(result.timings_s, "profile"):
                result.latency = _profile(self.profiler, path, self.profile_params)
        except _Failed as failure:
            result.status, result.failure_stage = FAILED, failure.stage
            result.failure_reason, result.profiler_error_kind = failure.reason, failure.kind
            logger.warning("cheap evaluation of %s failed at %s: %s", result.architecture, failure.stage,
                           failure.reason)
        result.timings_s["total"] = round(time.perf_counter() - start, 3)
        return result


class TrainingEvaluator:
    """Proxy-train a candidate, convert it to int8, evaluate the .tflite through LiteRT, profile it.

    Artifacts in ``workdir``: ``model_int8.tflite`` and the trained Keras model ``model.keras``.
    Datasets are loaded once per (resolution, channels) and reused across candidates, with the test
    split closed unless ``with_test`` (a search never needs it; an export reports it).
    """

    def __init__(self, dataset_cfg: DatasetConfig | None = None, train_cfg: TrainConfig | None = None, *,
                 profiler: Any = None, profile_params: Mapping[str, Any] | None = None,
                 measure_latency: bool = True, calibration_samples: int = 100,
                 save_keras_model: bool = True, qat_epochs: int | None = None, with_test: bool = False) -> None:
        self.with_test = with_test
        self.dataset_cfg = dataset_cfg or DatasetConfig()
        self.train_cfg = train_cfg or TrainConfig()
        self.measure_latency = measure_latency
        self.profiler = profiler if profiler is not None or not measure_latency else _default_profiler()
        self.profile_params = dict(profile_params or {})
        self.calibration_samples = calibration_samples
        self.save_keras_model = save_keras_model
        self.qat_epochs = qat_epochs  # set: quantization-aware fine-tune, then qat_int8 (as `nas export --qat`)
        self._datasets: dict[tuple[int, int], Dataset] = {}

    def dataset(self, resolution: int, channels: int) -> Dataset:
        """The dataset at this input size (loaded on first use; raises ``DatasetError``)."""
        key = (resolution, channels)
        if key not in self._datasets:
            self._datasets[key] = load_dataset(self.dataset_cfg, resolution=resolution, channels=channels,
                                               batch_size=self.train_cfg.batch_size, with_test=self.with_test)
        return self._datasets[key]

    def evaluate(self, arch: Any, workdir: str | Path, *, cheap: CheapResult | None = None,
                 rungs: RungTraining | None = None, initial_weights: list[Any] | None = None) -> CandidateResult:
        """Evaluate ``arch``; with a complete ``cheap`` result its latency is reused instead of re-profiling
        (int8 latency depends on the architecture, not on the trained weights).

        With ``rungs`` the training is judged at each rung and may stop there (early stopping); the
        int8 model is converted and evaluated where it stops or ends. Rung checkpoints go in
        ``workdir/rungs``.

        ``initial_weights`` (``model.get_weights()`` of the same architecture, e.g. weights inherited from a
        supernet) replace the random initialization: the training fine-tunes them.

        A bad candidate gives ``status="failed"``; a bad dataset (the search's input, not the
        candidate's fault) raises ``DatasetError``.
        """
        workdir = Path(workdir)
        workdir.mkdir(parents=True, exist_ok=True)
        result = CandidateResult(architecture=_arch_string(arch), versions=runtime_versions(),
                                 train_config=self.train_cfg.to_dict())
        start = time.perf_counter()
        try:
            self._run(arch, workdir, result, cheap, rungs, initial_weights)
        except _Failed as failure:
            result.status, result.failure_stage = FAILED, failure.stage
            result.failure_reason, result.profiler_error_kind = failure.reason, failure.kind
            logger.warning("evaluation of %s failed at %s: %s", result.architecture, failure.stage,
                           failure.reason)
        result.timings_s["total"] = round(time.perf_counter() - start, 3)
        return result

    def _train(self, model: Any, dataset: Dataset, result: CandidateResult, workdir: Path,
               rungs: RungTraining | None) -> Any:
        from evaluators.training import fit_in_rungs, train_model

        if rungs is None:
            return train_model(model, dataset, self.train_cfg)
        trained = fit_in_rungs(model, dataset, self.train_cfg, rungs.plan, rungs.judge,
                               checkpoint_dir=workdir / "rungs", architecture=result.architecture,
                               resume_from=rungs.resume_from)
        result.rung_accuracies = dict(trained.details["rung_accuracies"])
        result.stopped_at_epoch = trained.details["stopped_at_epoch"]
        return trained

    def _run(self, arch: Any, workdir: Path, result: CandidateResult, cheap: CheapResult | None,
             rungs: RungTraining | None = None, initial_weights: list[Any] | None = None) -> None:
        from evaluators.conversion import QATConfig, convert

        dataset = self.dataset(arch.resolution, arch.channels)
        result.dataset = {"name": self.dataset_cfg.name, **{k: dataset.info[k] for k in ("counts", "num_skipped")}}
        if arch.num_classes != dataset.num_classes:
            logger.info("%s has %d classes; adapting the classifier to the dataset's %d",
                        result.architecture, arch.num_classes, dataset.num_classes)
            arch = arch.with_input(num_classes=dataset.num_classes)
            result.architecture = _arch_string(arch)
        timings = result.timings_s
        with _Timer(timings, "build"):
            model, result.params, result.macs = _build(arch, self.train_cfg.bn_momentum, self.train_cfg.seed)
            if initial_weights is not None:
                try:
                    model.set_weights(initial_weights)
                except ValueError as exc:  # weights of another architecture: the caller's mistake
                    raise _Failed("build", f"initial weights do not fit {result.architecture}: {exc}") from exc
        with _Timer(timings, "train"):
            try:
                trained = self._train(model, dataset, result, workdir, rungs)
            except Exception as exc:  # OOM, shape errors ...: this candidate fails, the search goes on
                raise _Failed("train", f"training raised {type(exc).__name__}: {exc}") from exc
        result.training = trained.to_dict()
        if trained.diverged:
            raise _Failed("train", f"diverged: {trained.divergence_reason}")
        result.keras_accuracy = trained.val_accuracy
        if self.save_keras_model:
            _save_keras_model(model, workdir, result, timings)
        tflite_path = score_int8(lambda: convert(
            model, "qat_int8" if self.qat_epochs else "int8", calibration=dataset,
            qat=QATConfig(dataset, epochs=self.qat_epochs) if self.qat_epochs else None,
            calibration_samples=self.calibration_samples, seed=self.train_cfg.seed), dataset, workdir, result)
        if cheap is not None and cheap.ok and cheap.latency:
            result.latency = cheap.latency
            timings["profile"] = 0.0
        elif self.measure_latency:
            with _Timer(timings, "profile"):
                result.latency = _profile(self.profiler, tflite_path, self.profile_params)


__all__ = ["COMPLETE", "FAILED", "CandidateResult", "CheapEvaluator", "CheapResult", "EvaluationStatus",
           "KERAS_MODEL_NAME", "TFLITE_INT8_NAME", "TrainingEvaluator", "UNTRAINED_TFLITE_NAME",
           "runtime_versions", "score_int8"]

"""Export one model of a study: retrain on the full training split with a longer schedule
(optionally quantization-aware), convert to int8, and write a folder an edge device can use.

The folder holds ``model.tflite`` (int8, with labels / normalization / input size embedded as a JSON
metadata entry, see :mod:`nas.results.export.tflite_metadata`), the sidecar ``model.json``
(docs/interfaces.md "Exported model"), the trained Keras model ``model.keras``, ``MODEL_CARD.md``
and ``export.json`` (everything measured). It is written to ``<out>.partial`` and renamed to
``<out>`` only after the written ``.tflite`` was re-loaded with LiteRT, re-measured, and found
to give exactly the accuracy of the converted model, and the sidecar and embedded metadata were
read back: a folder at ``<out>`` is a verified export.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import shutil
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from nas.record.trial_record import ACCURACY_INHERITED
from nas.results.export import model_card, tflite_metadata
from nas.results.export.measurement import LatencyMeasurement
from nas.results.selection import Selection

logger = logging.getLogger(__name__)

MODEL_FILE = "model.tflite"
KERAS_FILE = "model.keras"
CARD_FILE = "MODEL_CARD.md"
SUMMARY_FILE = "export.json"
NORMALIZATION_MEAN = 127.5  # docs/interfaces.md "Normalization": x / 127.5 - 1
NORMALIZATION_STD = 127.5


class ExportError(RuntimeError):
    """The export failed or did not verify; the message says which step and why."""


@dataclasses.dataclass(frozen=True)
class ExportSettings:
    """The export schedule. ``None`` fields take the study's training value; ``epochs`` defaults to
    :data:`EPOCH_FACTOR` times the search's proxy epochs (at least :data:`MIN_EPOCHS`)."""

    out_dir: Path
    epochs: int | None = None
    lr: float | None = None
    batch_size: int | None = None
    qat: bool = False
    qat_epochs: int = 1
    calibration_samples: int = 200
    profile: bool = True
    overwrite: bool = False
    weights: str | None = None  # WEIGHT_MODES; None: retrain from scratch

    def __post_init__(self) -> None:
        if self.weights is not None and self.weights not in WEIGHT_MODES:
            raise ValueError(f"--weights: {self.weights!r} is not one of {', '.join(WEIGHT_MODES)}")
        if self.epochs is not None and self.epochs < 1:
            raise ValueError(f"epochs must be >= 1, got {self.epochs}")
        if self.qat_epochs < 1:
            raise ValueError(f"qat_epochs must be >= 1, got {self.qat_epochs}")
        if self.calibration_samples < 1:
            raise ValueError(f"calibration_samples must be >= 1, got {self.calibration_samples}")


EPOCH_FACTOR = 3
MIN_EPOCHS = 5
# Where the export's training starts (issue 16): a trial scored with weights inherited from a supernet
# can fine-tune them (Cai et al. 2020, "Once-for-All", section 3.3) or be retrained from scratch.
WEIGHT_MODES = ("finetune", "retrain")
FINETUNE_LR_FACTOR = 0.1  # fine-tuning starts from trained weights: a tenth of the study's peak rate


def export_training_config(search_training: Mapping[str, Any], settings: ExportSettings) -> dict[str, Any]:
    """The TrainConfig fields of the export: the study's, with the longer schedule applied."""
    fields = dict(search_training)
    search_epochs = int(fields.get("epochs", 5))
    fields["epochs"] = settings.epochs or max(MIN_EPOCHS, EPOCH_FACTOR * search_epochs)
    fields["steps_per_epoch"] = None  # a full pass over the full training split
    if settings.lr is not None:
        fields["lr"] = settings.lr
    elif settings.weights == "finetune":
        fields["lr"] = float(fields.get("lr", 3e-3)) * FINETUNE_LR_FACTOR
    if settings.batch_size is not None:
        fields["batch_size"] = settings.batch_size
    return fields


def _section(value: Any) -> dict[str, Any]:
    """A config section as a plain dict (the typed settings' dataclass or their recorded dict form)."""
    return dataclasses.asdict(value) if dataclasses.is_dataclass(value) else dict(value or {})


def _metadata_note(embedded: bool) -> str:
    from nas.results.export.tflite_metadata import METADATA_NAME, support_metadata_available

    where = (f"labels, normalization and input size are embedded in `model.tflite` as the JSON metadata "
             f"entry `{METADATA_NAME}` (TFLite schema `Model.metadata`) and written to `model.json`"
             if embedded else "labels, normalization and input size are written to `model.json` only")
    reason = ("the `tflite-support` package is not installed (its wheels are old)"
              if not support_metadata_available() else "`nas export` does not use `tflite-support`")
    return (f"{where}. The TFLite Support `TFLITE_METADATA` block (read by the TFLite Task Library and "
            f"Android Studio) is not written: {reason}.")


@dataclasses.dataclass(frozen=True)
class ExportedSelection:
    trial: int | None
    reason: str
    on_front: bool


@dataclasses.dataclass(frozen=True)
class ExportSummary:
    """What an export measured and wrote (``export.json``). Accuracies are the int8 model's through
    LiteRT on the re-loaded file; ``accuracy_int8_val_before_write`` the converted model's."""

    out_dir: str
    selection: ExportedSelection
    architecture: str
    accuracy_int8_val: float
    accuracy_int8_test: float | None
    accuracy_int8_val_before_write: float
    keras_val_accuracy: float | None
    latency_ms_p50: float | None
    latency_note: str
    size_bytes: int
    params: int
    macs: int
    quantization: str
    metadata_embedded: bool
    training: Mapping[str, Any]
    timings_s: Mapping[str, float]
    files: tuple[str, ...]
    accuracy_source: str = "trained"  # the search's accuracy of this trial: trained | inherited (supernet)
    weights: str = "retrain"  # where this export's training started: finetune (inherited weights) | retrain
    search_accuracy_int8: float | None = None  # the search's int8 val accuracy of this trial (inherited or proxy)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclasses.dataclass
class _Retrained:
    """The retrained model of an export: the evaluator's result, its data and the int8 flatbuffer."""

    arch: Any
    dataset: Any
    data_cfg: Any
    train_cfg: Any
    result: Any  # evaluators.CandidateResult
    tflite_bytes: bytes
    timings: dict[str, float]


@dataclasses.dataclass(frozen=True)
class _Written:
    """The model file as written, with the metadata embedded when possible."""

    path: Path
    size_bytes: int
    metadata: Any  # edge_profiler.model_metadata.ModelMetadata
    embedded: bool


def _prepare_folder(settings: ExportSettings) -> tuple[Path, Path]:
    out = Path(settings.out_dir)
    if out.exists() and not settings.overwrite:
        raise ExportError(f"{out} exists; pass --overwrite or choose another --out")
    partial = out.with_name(out.name + ".partial")
    if partial.exists():
        shutil.rmtree(partial)
    partial.mkdir(parents=True)
    return out, partial


def _retrain(arch: Any, search: Any, settings: ExportSettings, workdir: Path,
             initial_weights: list[Any] | None = None) -> _Retrained:
    """Train on the full training split, convert to int8 (QAT if asked) and score the converted
    model: ``evaluators.TrainingEvaluator``, the search's own evaluator, with the export schedule."""
    from evaluators import DatasetConfig, TrainConfig, TrainingEvaluator
    from evaluators.candidate import TFLITE_INT8_NAME

    train_cfg = TrainConfig(**export_training_config(_section(search.training), settings))
    data_cfg = (dataclasses.replace(search.dataset, fraction=1.0) if isinstance(search.dataset, DatasetConfig)
                else DatasetConfig(**(dict(search.dataset) | {"fraction": 1.0})))
    evaluator = TrainingEvaluator(data_cfg, train_cfg, measure_latency=False,
                                  calibration_samples=settings.calibration_samples,
                                  qat_epochs=settings.qat_epochs if settings.qat else None, with_test=True)
    t0 = time.perf_counter()
    dataset = evaluator.dataset(arch.resolution, arch.channels)
    if dataset.num_classes != arch.num_classes:
        raise ExportError(f"the dataset has {dataset.num_classes} classes but the architecture outputs "
                          f"{arch.num_classes}; was the study run on another dataset?")
    timings = {"load_data": time.perf_counter() - t0}
    result = evaluator.evaluate(arch, workdir, initial_weights=initial_weights)
    if not result.ok:
        if result.failure_stage == "train" and (result.failure_reason or "").startswith("diverged"):
            raise ExportError(f"retraining {result.failure_reason}; try a lower --lr")
        raise ExportError(f"{result.failure_stage} failed: {result.failure_reason}")
    if not (workdir / KERAS_FILE).is_file():
        raise ExportError(f"the trained model could not be saved as {KERAS_FILE} (see the log)")
    step = result.timings_s
    timings["train"] = sum(step.get(k, 0.0) for k in ("build", "train", "save"))
    timings["convert"] = step.get("convert", 0.0)
    logger.info("retrained %d epochs in %.1f s: Keras val accuracy %.4f",
                result.training.get("epochs_completed", 0), result.training.get("seconds", 0.0),
                result.keras_accuracy)
    converted = workdir / TFLITE_INT8_NAME
    tflite_bytes = converted.read_bytes()
    converted.unlink()  # written again below as model.tflite, with its metadata
    return _Retrained(arch, dataset, data_cfg, train_cfg, result, tflite_bytes, timings)


def _write_model(retrained: _Retrained, folder: Path) -> _Written:
    """``model.tflite`` with labels, normalization and input size embedded as JSON metadata."""
    from edge_profiler.model_metadata import ModelMetadata

    arch = retrained.arch
    metadata = ModelMetadata(labels=tuple(retrained.dataset.class_names), resolution=arch.resolution,
                             channels=arch.channels, architecture=arch.to_string(),
                             mean=NORMALIZATION_MEAN, std=NORMALIZATION_STD)
    try:
        tflite_bytes = tflite_metadata.embed_json(retrained.tflite_bytes, metadata.to_json())
        embedded = True
    except tflite_metadata.TFLiteMetadataError as exc:
        logger.warning("could not embed metadata in the .tflite (%s); the sidecar still has it", exc)
        tflite_bytes, embedded = retrained.tflite_bytes, False
    path = folder / MODEL_FILE
    path.write_bytes(tflite_bytes)
    return _Written(path, len(tflite_bytes), metadata, embedded)


def _verify(retrained: _Retrained, written: _Written) -> dict[str, Any]:
    """Re-load the written file with LiteRT and re-measure: the converted model's val accuracy
    exactly, and the metadata as written. Returns the int8 metrics per split (``val``, ``test``)."""
    from evaluators import evaluate_tflite

    dataset = retrained.dataset
    t0 = time.perf_counter()
    metrics = {"val": evaluate_tflite(written.path, dataset.val, dataset.class_names)}
    if dataset.test is not None:
        metrics["test"] = evaluate_tflite(written.path, dataset.test, dataset.class_names)
    retrained.timings["verify"] = time.perf_counter() - t0
    before = retrained.result.accuracy_int8
    if abs(metrics["val"].accuracy - before) > 1e-12:
        raise ExportError(f"the written model.tflite gives val accuracy {metrics['val'].accuracy:.6f}, the converted "
                          f"model {before:.6f}: writing changed the model")
    if written.embedded and tflite_metadata.read_json(written.path.read_bytes()) != written.metadata.to_json():
        raise ExportError("the metadata read back from model.tflite differs from what was written")
    out = {split: m.to_dict() for split, m in metrics.items()}
    for split in out.values():
        split.pop("confusion_matrix", None)
    return out


_XNNPACK_REFUSED = ("XNNPACK refuses this int8 model (e.g. a squeeze-excite branch that is 0 on every calibration "
                    "image): it runs on LiteRT's built-in kernels, several times slower than the search measured "
                    "its architecture; retrain with another seed or export another trial")


def with_xnnpack_note(latency_note: str, val_metrics: dict[str, Any]) -> str:
    """``latency_note``, plus a warning (also logged) when the int8 evaluation ran without XNNPACK."""
    if val_metrics.get("xnnpack", True):
        return latency_note
    logger.warning("%s", _XNNPACK_REFUSED)
    return f"{latency_note}; {_XNNPACK_REFUSED}"


def _measure_latency(path: Path, search: Any, settings: ExportSettings,
                     timings: dict[str, float]) -> tuple[LatencyMeasurement | None, str]:
    """The exported file's latency on the study's profiler, and a note on how (or why not)."""
    if not settings.profile:
        return None, "profiling skipped (--no-profile)"
    from edge_profiler.errors import ProfilerError
    from nas.config import ConfigError
    from nas.trial.evaluation import make_profiler

    t0 = time.perf_counter()
    try:
        result = make_profiler(search.profiler).measure(path, **search.profiler.measure_kwargs())
    except (ProfilerError, ConfigError) as exc:
        logger.warning("latency of the exported model not measured: %s", exc)
        return None, f"not measured: {exc}"
    finally:
        timings["profile"] = time.perf_counter() - t0
    latency = LatencyMeasurement.from_profiler(result)
    return latency, f"measured by {latency.measured_by}"


@dataclasses.dataclass(frozen=True)
class _SidecarExtra:
    """The export's own keys of ``model.json`` (docs/interfaces.md "Exported model")."""

    study: str
    trial: int | None
    selection: str
    dataset: dict[str, Any]
    metrics_int8: dict[str, dict[str, Any]]
    latency_ms: Mapping[str, float] | None
    device: Mapping[str, Any]
    size_bytes: int
    params: int
    macs: int
    quantization: str


def _write_sidecar(written: _Written, extra: _SidecarExtra) -> None:
    from edge_profiler.model_metadata import read_sidecar, write_sidecar

    sidecar = dataclasses.replace(written.metadata, extra=dataclasses.asdict(extra))
    sidecar_file = write_sidecar(written.path, sidecar)
    if read_sidecar(written.path).to_json() != sidecar.to_json():
        raise ExportError(f"{sidecar_file} does not read back as written")


def _quantization_text(settings: ExportSettings, conversion: Mapping[str, Any]) -> str:
    if settings.qat:
        return (f"quantization-aware fine-tune (tfmot) for {settings.qat_epochs} epoch(s) (fake-quantized Keras "
                f"val accuracy {100 * conversion.get('qat_keras_val_accuracy', float('nan')):.2f} %), "
                "then full-integer int8")
    return (f"post-training full-integer int8, calibrated on {conversion.get('calibration_samples')}"
            " training images")


def _card(selection: Selection, study_name: str, search: Any, settings: ExportSettings,
          retrained: _Retrained, written: _Written, metrics: Mapping[str, Any],
          latency: LatencyMeasurement | None, comparison_lines: Sequence[str]) -> model_card.ModelCard:
    from evaluators.metrics import interpreter_class

    point, arch, result = selection.point, retrained.arch, retrained.result
    _, runtime_name, runtime_version = interpreter_class()
    data = model_card.DataDescription(
        name=retrained.data_cfg.name, fraction=retrained.data_cfg.fraction,
        counts=retrained.dataset.info.get("counts"), class_names=tuple(retrained.dataset.class_names),
        resolution=arch.resolution, channels=arch.channels)
    return model_card.ModelCard(
        name=f"{study_name} trial {point.trial_number}", study=study_name, architecture=arch.to_string(),
        selection_reason=selection.reason, proxy_accuracy=point.accuracy,
        normalization_mean=NORMALIZATION_MEAN, normalization_std=NORMALIZATION_STD, data=data,
        training=retrained.train_cfg.to_dict() | {"seconds": result.training.get("seconds", 0.0)},
        search_training=_section(search.as_dict().get("training")),
        quantization=_quantization_text(settings, result.conversion), metrics=metrics,
        keras_val_accuracy=result.keras_accuracy, interpreter=f"{runtime_name} {runtime_version}",
        latency=latency, params=result.params, macs=result.macs, size_bytes=written.size_bytes,
        comparison=tuple(comparison_lines), metadata_note=_metadata_note(written.embedded))


def _starting_weights(point: Any, search: Any, settings: ExportSettings, arch: Any) -> tuple[str, list[Any] | None]:
    """(``finetune`` | ``retrain``, the weights the training starts from: None = random initialization)."""
    from nas.results.export.inherited import InheritedWeightsError, inherited_weights

    mode = settings.weights or "retrain"
    if mode == "retrain":
        return mode, None
    if point.accuracy_source != ACCURACY_INHERITED:
        raise ExportError(f"--weights finetune: trial {point.trial_number}'s accuracy was trained, not inherited from "
                          "a supernet, so it has no weights to fine-tune; use --weights retrain")
    try:
        return mode, inherited_weights(search, arch, point.inherited_from)
    except InheritedWeightsError as exc:
        raise ExportError(f"--weights finetune: {exc}") from None


def export_model(
    *,
    selection: Selection,
    study_name: str,
    config: Mapping[str, Any],
    settings: ExportSettings,
    comparison_lines: Sequence[str] = (),
) -> ExportSummary:
    """Retrain, convert, write, verify; returns the summary also written to ``export.json``.

    ``config`` is the search config the study recorded (its dict form); its dataset, training and
    profiler settings are the export's, with the longer schedule of ``settings``.
    """
    from nas.config import build_config
    from search_spaces.architecture import Architecture

    search = build_config(config)
    point = selection.point
    arch = Architecture.from_string(point.architecture)
    weights_mode, initial = _starting_weights(point, search, settings, arch)
    out, partial = _prepare_folder(settings)
    retrained = _retrain(arch, search, settings, partial, initial)
    written = _write_model(retrained, partial)
    metrics = _verify(retrained, written)
    latency, latency_note = _measure_latency(written.path, search, settings, retrained.timings)
    latency_note = with_xnnpack_note(latency_note, metrics["val"])
    result = retrained.result
    quantization = result.conversion.get("format", "qat_int8" if settings.qat else "int8")
    _write_sidecar(written, _SidecarExtra(
        study=study_name, trial=point.trial_number, selection=selection.reason, dataset=retrained.data_cfg.to_dict(),
        metrics_int8={name: {"accuracy": m["accuracy"], "num_samples": m["num_samples"]}
                      for name, m in metrics.items()},
        latency_ms=None if latency is None else dict(latency.latency_ms),
        device=dict(latency.device) if latency is not None and latency.device else dict(point.device),
        size_bytes=written.size_bytes, params=result.params, macs=result.macs, quantization=quantization))
    card = dataclasses.replace(
        _card(selection, study_name, search, settings, retrained, written, metrics, latency, comparison_lines),
        proxy_accuracy_source=point.accuracy_source, weights=weights_mode)
    (partial / CARD_FILE).write_text(model_card.render(card), encoding="utf-8")
    summary = ExportSummary(
        out_dir=str(out), selection=ExportedSelection(point.trial_number, selection.reason, selection.on_front),
        architecture=retrained.arch.to_string(), accuracy_int8_val=metrics["val"]["accuracy"],
        accuracy_int8_test=metrics["test"]["accuracy"] if "test" in metrics else None,
        accuracy_int8_val_before_write=result.accuracy_int8, keras_val_accuracy=result.keras_accuracy,
        latency_ms_p50=None if latency is None else latency.p50_ms, latency_note=latency_note,
        size_bytes=written.size_bytes, params=result.params, macs=result.macs, quantization=quantization,
        metadata_embedded=written.embedded, training=retrained.train_cfg.to_dict(), timings_s=retrained.timings,
        files=tuple(sorted(p.name for p in partial.iterdir()) + [SUMMARY_FILE]),
        accuracy_source=point.accuracy_source, weights=weights_mode, search_accuracy_int8=point.accuracy)
    (partial / SUMMARY_FILE).write_text(json.dumps(summary.to_dict(), indent=2, default=str) + "\n", encoding="utf-8")
    if out.exists():
        shutil.rmtree(out)
    partial.rename(out)
    return summary


__all__ = ["CARD_FILE", "EPOCH_FACTOR", "FINETUNE_LR_FACTOR", "KERAS_FILE", "MIN_EPOCHS", "MODEL_FILE", "SUMMARY_FILE",
           "WEIGHT_MODES", "ExportError",
           "ExportSettings", "ExportSummary", "ExportedSelection", "export_model", "export_training_config",
           "with_xnnpack_note"]

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
from pathlib import Path
from typing import Any, Mapping, Sequence

from nas.results.front import ModelPoint
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

    def __post_init__(self) -> None:
        if self.epochs is not None and self.epochs < 1:
            raise ValueError(f"epochs must be >= 1, got {self.epochs}")
        if self.qat_epochs < 1:
            raise ValueError(f"qat_epochs must be >= 1, got {self.qat_epochs}")
        if self.calibration_samples < 1:
            raise ValueError(f"calibration_samples must be >= 1, got {self.calibration_samples}")


EPOCH_FACTOR = 3
MIN_EPOCHS = 5


def export_training_config(search_training: Mapping[str, Any], settings: ExportSettings) -> dict[str, Any]:
    """The TrainConfig fields of the export: the study's, with the longer schedule applied."""
    fields = dict(search_training)
    search_epochs = int(fields.get("epochs", 5))
    fields["epochs"] = settings.epochs or max(MIN_EPOCHS, EPOCH_FACTOR * search_epochs)
    fields["steps_per_epoch"] = None  # a full pass over the full training split
    if settings.lr is not None:
        fields["lr"] = settings.lr
    if settings.batch_size is not None:
        fields["batch_size"] = settings.batch_size
    return fields


def _measure_kwargs(profiler_config: Mapping[str, Any]) -> dict[str, Any]:
    keys = ("threads", "warmup_runs", "runs", "min_seconds", "use_xnnpack")
    return {k: profiler_config[k] for k in keys if profiler_config.get(k) is not None}


def _metadata_note(embedded: bool) -> str:
    from nas.results.export.tflite_metadata import METADATA_NAME, support_metadata_available

    where = (f"labels, normalization and input size are embedded in `model.tflite` as the JSON metadata "
             f"entry `{METADATA_NAME}` (TFLite schema `Model.metadata`) and written to `model.json`"
             if embedded else "labels, normalization and input size are written to `model.json` only")
    reason = ("the `tflite-support` package is not installed (its wheels are old)"
              if not support_metadata_available() else "`nas export` does not use `tflite-support`")
    return (f"{where}. The TFLite Support `TFLITE_METADATA` block (read by the TFLite Task Library and "
            f"Android Studio) is not written: {reason}.")


def export_model(
    *,
    selection: Selection,
    study_name: str,
    config: Mapping[str, Any],
    settings: ExportSettings,
    comparison_lines: Sequence[str] = (),
) -> dict[str, Any]:
    """Retrain, convert, write, verify; returns the summary also written to ``export.json``."""
    from edge_profiler.errors import ProfilerError
    from edge_profiler.model_metadata import ModelMetadata, read_sidecar, write_sidecar
    from evaluators import DatasetConfig, QATConfig, convert, evaluate_tflite, load_dataset
    from evaluators.metrics import interpreter_class
    from evaluators.training import TrainConfig, train_model
    from nas.results.export import model_card, tflite_metadata
    from search_spaces import arch_cost, build_model
    from search_spaces.architecture import Architecture

    out = Path(settings.out_dir)
    if out.exists() and not settings.overwrite:
        raise ExportError(f"{out} exists; pass --overwrite or choose another --out")
    partial = out.with_name(out.name + ".partial")
    if partial.exists():
        shutil.rmtree(partial)
    partial.mkdir(parents=True)
    point: ModelPoint = selection.point
    arch = Architecture.from_string(point.architecture)
    timings: dict[str, float] = {}

    # -- data and training ----------------------------------------------------------------------
    t0 = time.perf_counter()
    train_fields = export_training_config(config.get("training") or {}, settings)
    train_cfg = TrainConfig(**train_fields)
    data_fields = dict(config.get("dataset") or {}) | {"fraction": 1.0}
    data_cfg = DatasetConfig(**data_fields)
    dataset = load_dataset(data_cfg, resolution=arch.resolution, channels=arch.channels,
                           batch_size=train_cfg.batch_size)
    if dataset.num_classes != arch.num_classes:
        raise ExportError(f"the dataset has {dataset.num_classes} classes but the architecture outputs "
                          f"{arch.num_classes}; was the study run on another dataset?")
    timings["load_data"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    model = build_model(arch, bn_momentum=train_cfg.bn_momentum or 0.9)
    trained = train_model(model, dataset, train_cfg)
    timings["train"] = time.perf_counter() - t0
    if trained.diverged:
        raise ExportError(f"retraining diverged: {trained.divergence_reason}; try a lower --lr")
    logger.info("retrained %d epochs in %.1f s: Keras val accuracy %.4f",
                trained.epochs_completed, trained.seconds, trained.val_accuracy)
    model.save(partial / KERAS_FILE)

    # -- int8 conversion ------------------------------------------------------------------------
    t0 = time.perf_counter()
    fmt = "qat_int8" if settings.qat else "int8"
    qat = QATConfig(dataset=dataset, epochs=settings.qat_epochs) if settings.qat else None
    converted = convert(model, fmt, calibration=dataset, qat=qat,
                        calibration_samples=settings.calibration_samples, seed=train_cfg.seed)
    timings["convert"] = time.perf_counter() - t0
    before = evaluate_tflite(converted.tflite_bytes, dataset.val, dataset.class_names)

    # -- write ----------------------------------------------------------------------------------
    metadata = ModelMetadata(
        labels=tuple(dataset.class_names),
        resolution=arch.resolution,
        channels=arch.channels,
        architecture=arch.to_string(),
        mean=NORMALIZATION_MEAN,
        std=NORMALIZATION_STD,
    )
    embedded_json = metadata.to_json()
    try:
        tflite_bytes = tflite_metadata.embed_json(converted.tflite_bytes, embedded_json)
        embedded = True
    except tflite_metadata.TFLiteMetadataError as exc:
        logger.warning("could not embed metadata in the .tflite (%s); the sidecar still has it", exc)
        tflite_bytes, embedded = converted.tflite_bytes, False
    model_path = partial / MODEL_FILE
    model_path.write_bytes(tflite_bytes)

    # -- verify: re-load the written file with LiteRT and re-measure ------------------------------
    t0 = time.perf_counter()
    val = evaluate_tflite(model_path, dataset.val, dataset.class_names)
    test = evaluate_tflite(model_path, dataset.test, dataset.class_names) if dataset.test is not None else None
    timings["verify"] = time.perf_counter() - t0
    if abs(val.accuracy - before.accuracy) > 1e-12:
        raise ExportError(f"the written model.tflite gives val accuracy {val.accuracy:.6f}, the converted model "
                          f"{before.accuracy:.6f}: writing changed the model")
    if embedded and tflite_metadata.read_json(model_path.read_bytes()) != embedded_json:
        raise ExportError("the metadata read back from model.tflite differs from what was written")

    # -- latency on the study's profiler --------------------------------------------------------
    profiler_config = dict(config.get("profiler") or {})
    latency: dict[str, Any] | None = None
    latency_note = "profiling skipped (--no-profile)"
    if settings.profile:
        from nas.config.settings import ConfigError
        from nas.trial.evaluation import make_profiler

        t0 = time.perf_counter()
        try:
            latency = make_profiler(profiler_config).measure(model_path, **_measure_kwargs(profiler_config))
            latency_note = f"measured by {latency.get('measured_by')}"
        except (ProfilerError, ConfigError) as exc:
            latency_note = f"not measured: {exc}"
            logger.warning("latency of the exported model not measured: %s", exc)
        timings["profile"] = time.perf_counter() - t0

    # -- sidecar, card, summary -----------------------------------------------------------------
    cost = arch_cost(arch)
    _, runtime_name, runtime_version = interpreter_class()
    metrics = {"val": val.to_dict(), **({"test": test.to_dict()} if test is not None else {})}
    for split in metrics.values():
        split.pop("confusion_matrix", None)
    sidecar = dataclasses.replace(metadata, extra={
        "study": study_name,
        "trial": point.trial_number,
        "selection": selection.reason,
        "dataset": data_cfg.to_dict(),
        "metrics_int8": {name: {"accuracy": m["accuracy"], "num_samples": m["num_samples"]}
                         for name, m in metrics.items()},
        "latency_ms": (latency or {}).get("latency_ms"),
        "device": (latency or {}).get("device") or dict(point.device),
        "size_bytes": len(tflite_bytes),
        "params": cost.params,
        "macs": cost.macs,
        "quantization": fmt,
    })
    sidecar_file = write_sidecar(model_path, sidecar)
    if read_sidecar(model_path).to_json() != sidecar.to_json():
        raise ExportError(f"{sidecar_file} does not read back as written")

    card = {
        "name": f"{study_name} trial {point.trial_number}",
        "study": study_name,
        "architecture": arch.to_string(),
        "selection": {"reason": selection.reason, "trial": point.trial_number, "proxy_accuracy": point.accuracy},
        "normalization": {"mean": NORMALIZATION_MEAN, "std": NORMALIZATION_STD},
        "dataset": {"name": data_cfg.name, "fraction": data_cfg.fraction, "counts": dataset.info.get("counts"),
                    "class_names": list(dataset.class_names), "resolution": arch.resolution,
                    "channels": arch.channels},
        "training": train_cfg.to_dict() | {"seconds": trained.seconds},
        "search_training": dict(config.get("training") or {}),
        "quantization": ("quantization-aware fine-tune (tfmot) for "
                         f"{settings.qat_epochs} epoch(s) (fake-quantized Keras val accuracy "
                         f"{100 * converted.details.get('qat_keras_val_accuracy', float('nan')):.2f} %), "
                         "then full-integer int8" if settings.qat else
                         f"post-training full-integer int8, calibrated on {converted.details.get('calibration_samples')}"
                         " training images"),
        "metrics": metrics,
        "keras_val_accuracy": trained.val_accuracy,
        "interpreter": f"{runtime_name} {runtime_version}",
        "latency": latency,
        "params": cost.params,
        "macs": cost.macs,
        "size_bytes": len(tflite_bytes),
        "comparison": list(comparison_lines),
        "metadata_note": _metadata_note(embedded),
    }
    (partial / CARD_FILE).write_text(model_card.render(card), encoding="utf-8")
    summary = {
        "out_dir": str(out),
        "selection": {"trial": point.trial_number, "reason": selection.reason, "on_front": selection.on_front},
        "architecture": arch.to_string(),
        "accuracy_int8_val": val.accuracy,
        "accuracy_int8_test": None if test is None else test.accuracy,
        "accuracy_int8_val_before_write": before.accuracy,
        "keras_val_accuracy": trained.val_accuracy,
        "latency_ms_p50": None if latency is None else latency["latency_ms"]["p50"],
        "latency_note": latency_note,
        "size_bytes": len(tflite_bytes),
        "params": cost.params,
        "macs": cost.macs,
        "quantization": fmt,
        "metadata_embedded": embedded,
        "training": train_cfg.to_dict(),
        "timings_s": timings,
        "files": sorted(p.name for p in partial.iterdir()) + [SUMMARY_FILE],
    }
    (partial / SUMMARY_FILE).write_text(json.dumps(summary, indent=2, default=str) + "\n", encoding="utf-8")
    if out.exists():
        shutil.rmtree(out)
    partial.rename(out)
    return summary

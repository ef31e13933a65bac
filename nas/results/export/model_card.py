"""The model card of an exported model: Markdown, after Mitchell et al., "Model Cards for Model
Reporting" (FAT* 2019), cut down to what a small on-device classifier needs: what it is, the data,
the training budget, int8 metrics measured through the interpreter, latency on the profiled device,
and how it compares with MobileNetV2."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from typing import Any

from nas.results.export.measurement import LatencyMeasurement


@dataclasses.dataclass(frozen=True)
class DataDescription:
    """The data an exported model was retrained on and the input it takes."""

    name: str
    fraction: float
    counts: Mapping[str, Any] | None
    class_names: tuple[str, ...]
    resolution: int
    channels: int


@dataclasses.dataclass(frozen=True)
class ModelCard:
    """Everything the card states. ``metrics`` maps a split (``val``, ``test``) to the int8 metrics
    measured through LiteRT on the written file; ``training`` is the export's ``TrainConfig`` as a
    dict plus ``seconds``; ``search_training`` the study's proxy training settings."""

    name: str
    study: str
    architecture: str
    selection_reason: str
    proxy_accuracy: float | None
    normalization_mean: float
    normalization_std: float
    data: DataDescription
    training: Mapping[str, Any]
    search_training: Mapping[str, Any]
    quantization: str
    metrics: Mapping[str, Mapping[str, Any]]
    keras_val_accuracy: float | None
    interpreter: str
    latency: LatencyMeasurement | None
    params: int
    macs: int
    size_bytes: int
    comparison: tuple[str, ...]
    metadata_note: str
    # How the search measured proxy_accuracy (trained | inherited from a supernet, issue 16), and where
    # the export's training started (finetune: the inherited weights | retrain: from scratch).
    proxy_accuracy_source: str = "trained"
    weights: str = "retrain"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.2f} %"


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f} ms"


def _model_section(card: ModelCard) -> list[str]:
    data = card.data
    return [
        "## Model",
        f"- Chosen: {card.selection_reason}.",
        f"- Architecture: `{card.architecture}`",
        f"- Input: {data.resolution} x {data.resolution} x {data.channels}, pixels p in [0, 255] fed as "
        f"(p - {card.normalization_mean}) / {card.normalization_std}, then quantized with the "
        "input tensor's scale and zero point.",
        f"- Output: {len(data.class_names)} classes: {', '.join(data.class_names)}.",
        f"- Parameters: {card.params:,}; multiply-accumulates: {card.macs:,}; int8 file: "
        f"{card.size_bytes:,} bytes.",
        "",
        "## Data",
        f"- Dataset `{data.name}`; split sizes {json.dumps(data.counts)} (seeded, stratified).",
        f"- Retrained on the full training split (fraction {data.fraction}); the validation split is the "
        "one the search measured accuracy on; the test split was never used for choosing.",
        "",
    ]


def _training_section(card: ModelCard) -> list[str]:
    train = card.training
    start = ("fine-tuned from the weights inherited from the study's supernet (BatchNorm recalibrated)"
             if card.weights == "finetune" else "trained from scratch")
    return [
        "## Training budget",
        f"- Export schedule ({start}): {train['epochs']} epochs, {train['optimizer']}, peak learning rate "
        f"{train['lr']}, batch {train['batch_size']}, {train['warmup_epochs']} warm-up epoch(s) then cosine decay, "
        f"label smoothing {train['label_smoothing']}, weight decay {train['weight_decay']}, seed {train['seed']}; "
        f"{train['seconds']:.0f} s on the export machine.",
        f"- Quantization: {card.quantization}.",
        f"- Search (proxy) budget per trial: {json.dumps(card.search_training)}.",
        "",
    ]


def _metrics_section(card: ModelCard) -> list[str]:
    lines = [
        "## Metrics (int8 model through the LiteRT interpreter)",
        f"Measured by re-loading the written `model.tflite` with `{card.interpreter}`:",
        "",
        "| split | accuracy | top-5 | macro F1 | images |",
        "|---|---|---|---|---|",
    ]
    for split in ("val", "test"):
        m = card.metrics.get(split)
        if m:
            lines.append(f"| {split} | {_pct(m['accuracy'])} | {_pct(m.get('top5_accuracy'))} | "
                         f"{m['f1_macro']:.4f} | {m['num_samples']} |")
    return [
        *lines,
        "",
        f"Keras (float) validation accuracy before conversion: {_pct(card.keras_val_accuracy)}. "
        + _search_accuracy_text(card),
        "",
    ]


def _search_accuracy_text(card: ModelCard) -> str:
    """The search's int8 accuracy of this architecture, and how it was measured."""
    if card.proxy_accuracy_source != "inherited":
        return f"The search's proxy-trained int8 accuracy of this architecture: {_pct(card.proxy_accuracy)}."
    after = "after fine-tuning those weights" if card.weights == "finetune" else "after retraining from scratch"
    val = card.metrics.get("val") or {}
    return (f"The search scored this architecture with weights inherited from its supernet, untrained "
            f"(Once-for-All): int8 accuracy {_pct(card.proxy_accuracy)} (inherited); this export, {after}: "
            f"{_pct(val.get('accuracy'))} (val).")


def _xnnpack_text(requested: object, applied: object) -> str:
    """What ran: ``applied`` is the profiler's ``xnnpack_applied`` (delegate nodes in the graph)."""
    if not requested:
        return "off"
    if applied is None:
        return "requested (applied not recorded)"
    return "on, applied" if applied else "requested but NOT applied: the built-in kernels ran"


def _latency_section(latency: LatencyMeasurement | None) -> list[str]:
    lines = ["## Latency on the profiled device"]
    if latency is None:
        return [*lines, "- Not measured (profiling was skipped).", ""]
    stats, settings, runtime = latency.latency_ms, latency.params, latency.runtime
    return [
        *lines,
        f"- p50 {_ms(stats.get('p50'))}, p90 {_ms(stats.get('p90'))}, mean {_ms(stats.get('mean'))} "
        f"over {stats.get('count')} runs ({settings.get('threads')} thread(s), XNNPACK "
        f"{_xnnpack_text(settings.get('use_xnnpack'), latency.result.get('xnnpack_applied'))}), "
        f"measured by `{latency.measured_by}` with "
        f"{runtime.get('name')} {runtime.get('version')}.",
        f"- Device: `{json.dumps(dict(latency.device), sort_keys=True)}`",
        "",
    ]


def _comparison_section(comparison: Sequence[str]) -> list[str]:
    lines = ["## Comparison with MobileNetV2 (and other evaluated references)", ""]
    if not comparison:
        return [*lines, "No MobileNetV2 point was evaluated in this study (run `nas compare`).", ""]
    return [
        *lines,
        "At the search's proxy budget, with the same data, training and profiler (the study's own "
        "numbers, not the longer export schedule):",
        "",
        *[f"- {line}" for line in comparison],
        "",
    ]


def _files_section(card: ModelCard) -> list[str]:
    return [
        "## Files",
        "- `model.tflite`: the int8 model (int8 input and output).",
        "- `model.json`: sidecar with labels, normalization, input size, architecture, metrics and device "
        "(docs/interfaces.md \"Exported model\").",
        "- `model.keras`: the trained Keras (tf_keras) model before conversion.",
        "",
        "## Metadata",
        f"- {card.metadata_note}",
        "",
    ]


def render(card: ModelCard) -> str:
    """The card as Markdown."""
    head: list[Any] = [
        f"# Model card: {card.name}",
        "",
        f"An int8 TensorFlow Lite image classifier found by `nas search` (study `{card.study}`) and "
        f"exported by `nas export`.",
        "",
    ]
    sections = (_model_section(card), _training_section(card), _metrics_section(card),
                _latency_section(card.latency), _comparison_section(card.comparison), _files_section(card))
    return "\n".join(head + [line for section in sections for line in section])


__all__ = ["DataDescription", "ModelCard", "render"]

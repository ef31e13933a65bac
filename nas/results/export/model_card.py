"""The model card of an exported model: Markdown, after Mitchell et al., "Model Cards for Model
Reporting" (FAT* 2019), cut down to what a small on-device classifier needs: what it is, the data,
the training budget, int8 metrics measured through the interpreter, latency on the profiled device,
and how it compares with MobileNetV2."""

from __future__ import annotations

import json
from typing import Any, Mapping, Sequence


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.2f} %"


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f} ms"


def _kb(value: float | None) -> str:
    return "-" if value is None else f"{value / 1024:.1f} KB"


def render(card: Mapping[str, Any]) -> str:
    """Markdown for the dict ``nas.results.export.exporter`` assembles (keys documented inline below)."""
    sel = card["selection"]
    data = card["dataset"]
    train = card["training"]
    final = card["metrics"]
    latency = card.get("latency") or {}
    lines = [
        f"# Model card: {card['name']}",
        "",
        f"An int8 TensorFlow Lite image classifier found by `nas search` (study `{card['study']}`) and "
        f"exported by `nas export`.",
        "",
        "## Model",
        f"- Chosen: {sel['reason']}.",
        f"- Architecture: `{card['architecture']}`",
        f"- Input: {data['resolution']} x {data['resolution']} x {data['channels']}, pixels p in [0, 255] fed as "
        f"(p - {card['normalization']['mean']}) / {card['normalization']['std']}, then quantized with the "
        "input tensor's scale and zero point.",
        f"- Output: {len(data['class_names'])} classes: {', '.join(data['class_names'])}.",
        f"- Parameters: {card['params']:,}; multiply-accumulates: {card['macs']:,}; int8 file: "
        f"{card['size_bytes']:,} bytes.",
        "",
        "## Data",
        f"- Dataset `{data['name']}`; split sizes {json.dumps(data['counts'])} (seeded, stratified).",
        f"- Retrained on the full training split (fraction {data['fraction']}); the validation split is the "
        "one the search measured accuracy on; the test split was never used for choosing.",
        "",
        "## Training budget",
        f"- Export schedule: {train['epochs']} epochs, {train['optimizer']}, peak learning rate {train['lr']}, "
        f"batch {train['batch_size']}, {train['warmup_epochs']} warm-up epoch(s) then cosine decay, label "
        f"smoothing {train['label_smoothing']}, weight decay {train['weight_decay']}, seed {train['seed']}; "
        f"{train['seconds']:.0f} s on the export machine.",
        f"- Quantization: {card['quantization']}.",
        f"- Search (proxy) budget per trial: {json.dumps(card['search_training'])}.",
        "",
        "## Metrics (int8 model through the LiteRT interpreter)",
        f"Measured by re-loading the written `model.tflite` with `{card['interpreter']}`:",
        "",
        "| split | accuracy | top-5 | macro F1 | images |",
        "|---|---|---|---|---|",
    ]
    for split in ("val", "test"):
        m = final.get(split)
        if m:
            lines.append(f"| {split} | {_pct(m['accuracy'])} | {_pct(m.get('top5_accuracy'))} | "
                         f"{m['f1_macro']:.4f} | {m['num_samples']} |")
    lines += [
        "",
        f"Keras (float) validation accuracy before conversion: {_pct(card.get('keras_val_accuracy'))}. "
        f"The search's proxy-trained int8 accuracy of this architecture: {_pct(sel.get('proxy_accuracy'))}.",
        "",
        "## Latency on the profiled device",
    ]
    if latency:
        stats = latency["latency_ms"]
        params = latency.get("params", {})
        lines += [
            f"- p50 {_ms(stats.get('p50'))}, p90 {_ms(stats.get('p90'))}, mean {_ms(stats.get('mean'))} "
            f"over {stats.get('count')} runs ({params.get('threads')} thread(s), XNNPACK "
            f"{'on' if params.get('use_xnnpack') else 'off'}), measured by `{latency.get('measured_by')}` with "
            f"{latency.get('runtime', {}).get('name')} {latency.get('runtime', {}).get('version')}.",
            f"- Device: `{json.dumps(latency.get('device', {}), sort_keys=True)}`",
        ]
    else:
        lines.append("- Not measured (profiling was skipped).")
    lines += ["", "## Comparison with MobileNetV2 (and other evaluated references)", ""]
    comparison: Sequence[str] = card.get("comparison") or ()
    if comparison:
        lines.append("At the search's proxy budget, with the same data, training and profiler (the study's own "
                     "numbers, not the longer export schedule):")
        lines.append("")
        lines += [f"- {line}" for line in comparison]
    else:
        lines.append("No MobileNetV2 point was evaluated in this study (run `nas compare`).")
    lines += [
        "",
        "## Files",
        "- `model.tflite`: the int8 model (int8 input and output).",
        "- `model.json`: sidecar with labels, normalization, input size, architecture, metrics and device "
        "(docs/interfaces.md \"Exported model\").",
        "- `model.keras`: the trained Keras (tf_keras) model before conversion.",
        "",
        "## Metadata",
        f"- {card['metadata_note']}",
        "",
    ]
    return "\n".join(lines)

"""Compression table: MobileNetV2 0.35 and a Fused-MBConv net on Fashion-MNIST in every TFLite format.

Trains each network for a few proxy epochs, converts it to float32, float16, dynamic-range, int8
(post-training, int8 input/output) and QAT int8 (tensorflow-model-optimization), and runs every
.tflite file through the LiteRT interpreter on the test split. Prints one row per (model, format):
size and accuracy, as in the source project's compression table.

    python benchmarks/compression_table.py --epochs 3 --fraction 0.25 --resolution 32

MobileNetV2 is trained from scratch unless ``--weights`` gives a local no-top ImageNet weights file
(then it is fine-tuned as in ``evaluators.transfer``; RGB input).
"""

from __future__ import annotations

import argparse
import json
import logging
import platform
import sys
import time
from pathlib import Path
from typing import Any

logger = logging.getLogger("compression_table")

# A small EfficientNetV2-style net: Fused-MBConv early, MBConv later (Tan & Le 2021).
FUSED_NET = ("in{res}x{ch}-stem_c16_k3_s2_relu6-er_r1_k3_s1_e1_c16_relu6-er_r2_k3_s2_e4_c24_relu6"
             "-ir_r2_k3_s2_e4_c40_relu6-ir_r2_k3_s1_e6_c64_relu6-head_c320_relu6-cls10")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="fashion-mnist", help="evaluators dataset name")
    parser.add_argument("--data-dir", default=None, help="IDX folder (default: /usr/share/datasets/fashion-mnist)")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--fraction", type=float, default=0.25, help="share of the training set used")
    parser.add_argument("--resolution", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--qat-epochs", type=int, default=1)
    parser.add_argument("--weights", default=None, help="local MobileNetV2 0.35 no-top ImageNet weights (.h5)")
    parser.add_argument("--json", type=Path, default=None, help="also write the rows as JSON here")
    parser.add_argument("--seed", type=int, default=0)
    return parser


def _models(args: argparse.Namespace, num_classes: int) -> list[tuple[str, Any, Any]]:
    """(label, model factory, channels) for the two networks."""
    from evaluators import build_mobilenet_v2_transfer
    from search_spaces import Architecture, build_model, get_baseline

    res = args.resolution
    if args.weights:
        mobilenet = ("MobileNetV2 0.35 (ImageNet, fine-tuned)",
                     lambda: build_mobilenet_v2_transfer(args.weights, num_classes=num_classes, resolution=res), 3)
    else:
        arch = get_baseline("mobilenet_v2_0.35").with_input(resolution=res, channels=1, num_classes=num_classes)
        mobilenet = ("MobileNetV2 0.35 (from scratch)", lambda: build_model(arch), 1)
    fused = Architecture.from_string(FUSED_NET.format(res=res, ch=1)).with_input(num_classes=num_classes)
    return [mobilenet, ("Fused-MBConv net", lambda: build_model(fused), 1)]


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s",
                        datefmt="%H:%M:%S")
    from evaluators import (
        FORMATS,
        DatasetConfig,
        QATConfig,
        TrainConfig,
        convert,
        evaluate_tflite,
        load_dataset,
        runtime_versions,
        train_model,
        train_transfer,
    )
    from search_spaces.keras_backend import keras

    start = time.perf_counter()
    data_cfg = DatasetConfig(name=args.dataset, data_dir=args.data_dir, fraction=args.fraction,
                             val_fraction=0.1, seed=args.seed)
    train_cfg = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, seed=args.seed)
    rows: list[dict[str, Any]] = []
    datasets: dict[int, Any] = {}
    for label, factory, channels in _models(args, num_classes=10):
        if channels not in datasets:
            datasets[channels] = load_dataset(data_cfg, resolution=args.resolution, channels=channels,
                                              batch_size=args.batch_size)
        data = datasets[channels]
        keras.utils.set_random_seed(args.seed)
        model = factory()
        logger.info("training %s (%d params) for %d epochs on %d images", label, model.count_params(),
                    args.epochs, data.info["counts"]["train"])
        if args.weights and channels == 3:
            trained = train_transfer(model, data, train_cfg, head_epochs=1)
        else:
            trained = train_model(model, data, train_cfg)
        if trained.diverged:
            logger.error("%s diverged: %s", label, trained.divergence_reason)
            continue
        keras_test = float(model.evaluate(data.test, verbose=0)[1])
        rows.append({"model": label, "format": "keras (float32)", "size_bytes": None,
                     "accuracy": keras_test, "params": int(model.count_params()),
                     "train_seconds": round(trained.seconds, 1)})
        qat = QATConfig(data, epochs=args.qat_epochs)
        for fmt in FORMATS:
            # QAT fine-tunes a copy; the other formats convert the trained model itself.
            source = model
            if fmt == "qat_int8":
                source = keras.models.clone_model(model)
                source.set_weights(model.get_weights())
            result = convert(source, fmt, calibration=data if "int8" in fmt else None,
                             qat=qat if fmt == "qat_int8" else None)
            metrics = evaluate_tflite(result.tflite_bytes, data.test, data.class_names)
            rows.append({"model": label, "format": fmt, "size_bytes": result.size_bytes,
                         "accuracy": metrics.accuracy, "f1_macro": metrics.f1_macro,
                         "convert_seconds": round(result.seconds, 2)})
            logger.info("%s %s: %d bytes, accuracy %.4f", label, fmt, result.size_bytes, metrics.accuracy)
    wall = time.perf_counter() - start
    _print_table(rows, args, data_cfg, wall, runtime_versions())
    if args.json:
        args.json.write_text(json.dumps({"rows": rows, "args": vars(args) | {"json": str(args.json)},
                                         "wall_seconds": wall, "versions": runtime_versions()}, indent=2))
    return 0


def _print_table(rows: list[dict[str, Any]], args: argparse.Namespace, data_cfg: Any, wall: float,
                 versions: dict[str, str]) -> None:
    print(f"Dataset {data_cfg.name}: {args.fraction:.0%} of the training set, {args.epochs} epochs, "
          f"{args.resolution}x{args.resolution} px; accuracy on the test split.")
    print()
    print("| Model | Format | Size (KiB) | Size vs float32 | Test accuracy | Convert (s) |")
    print("|---|---|---:|---:|---:|---:|")
    float32_size = {row["model"]: row["size_bytes"] for row in rows if row["format"] == "float32"}
    for row in rows:
        size = row["size_bytes"]
        size_kib = f"{size / 1024:.1f}" if size else "-"
        ratio = f"{size / float32_size[row['model']]:.2f}x" if size and row["model"] in float32_size else "-"
        seconds = f"{row['convert_seconds']:.2f}" if "convert_seconds" in row else "-"
        print(f"| {row['model']} | {row['format']} | {size_kib} | {ratio} | {row['accuracy']:.4f} | {seconds} |")
    print()
    print("Convert (s) of qat_int8 includes its quantization-aware fine-tune epoch(s).")
    print(f"Wall time {wall:.0f} s on {platform.machine()} ({platform.processor() or 'cpu'}), "
          f"Python {platform.python_version()}, " + ", ".join(f"{k} {v}" for k, v in versions.items()))


if __name__ == "__main__":
    sys.exit(main())

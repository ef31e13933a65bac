"""What tf.data's autotuner costs a proxy training (docs/early_stopping.md, "A fixed cost found in tf.data").

Keras deletes the training iterator at every epoch's end and when ``fit`` returns; with the autotuner on
(tf.data's default) the deletion waits for its thread. This times one proxy training as a search runs
it (MobileNetV2 0.35, Fashion-MNIST 10 %, 32 px, 3 epochs, batch 128, then the Keras validation), with
the autotuner off (the pipeline's setting since 7 Dec 2026) and on, in interleaved pairs (off, on, off,
on ...), each in a fresh process pinned to one core. Reported per run: seconds of ``fit``, of the three
epochs' steps, of the gaps between epochs and after the last, and of ``evaluate``.

Run: ``python -m benchmarks.tf_data_autotune --pairs 3 --core 1 [--out F]``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

logger = logging.getLogger("tf_data_autotune")

DATA_DIR = "/usr/share/datasets/fashion-mnist"
BASELINE = "mobilenet_v2_0.35"
EPOCHS = 3


def one_run(autotune: bool) -> dict[str, Any]:
    """One proxy training in this process; ``autotune`` re-enables the autotuner on every split."""
    from evaluators import DatasetConfig, TrainConfig
    from evaluators.datasets import load_dataset
    from evaluators.training import compile_for_training
    from search_spaces import build_model
    from search_spaces.baselines import get_baseline
    from search_spaces.keras_backend import keras, tf

    data = load_dataset(DatasetConfig(name="fashion-mnist", data_dir=DATA_DIR, fraction=0.1, val_fraction=0.1),
                        resolution=32, channels=1, batch_size=128, with_test=False)
    train, val = data.train, data.val
    if autotune:
        options = tf.data.Options()
        options.autotune.enabled = True
        train, val = train.with_options(options), val.with_options(options)
    keras.utils.set_random_seed(0)
    model = build_model(get_baseline(BASELINE).with_input(resolution=32, channels=1, num_classes=10), bn_momentum=0.9)
    cfg = TrainConfig(epochs=EPOCHS, batch_size=128)
    compile_for_training(model, cfg, int(data.train.cardinality()), EPOCHS)
    marks: dict[str, float] = {}

    class Marks(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
            marks[f"begin{epoch}"] = time.perf_counter()

        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            marks[f"end{epoch}"] = time.perf_counter()

    start = time.perf_counter()
    model.fit(train, epochs=EPOCHS, callbacks=[Marks()], verbose=0)
    fitted = time.perf_counter()
    model.evaluate(val, verbose=0)
    evaluated = time.perf_counter()
    ends = [marks[f"end{e}"] for e in range(EPOCHS)]
    gaps = [marks[f"begin{e + 1}"] - ends[e] for e in range(EPOCHS - 1)] + [fitted - ends[-1]]
    return {"autotune": autotune, "fit_s": round(fitted - start, 2),
            "epoch_s": [round(ends[e] - marks[f"begin{e}"], 2) for e in range(EPOCHS)],
            "gaps_s": [round(g, 2) for g in gaps], "evaluate_s": round(evaluated - fitted, 2),
            "loadavg": [round(v, 2) for v in os.getloadavg()]}


def _child(autotune: bool, core: int | None) -> dict[str, Any]:
    command = [sys.executable, "-m", "benchmarks.tf_data_autotune", "--one", "on" if autotune else "off"]
    if core is not None:
        command = ["taskset", "-c", str(core), *command]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Mean fit, gap and evaluate seconds per setting, and the paired fit difference (on minus off)."""
    out: dict[str, Any] = {}
    for setting in (False, True):
        mine = [r for r in runs if r["autotune"] is setting]
        out["on" if setting else "off"] = {
            "runs": len(mine), "fit_s_mean": round(statistics.fmean(r["fit_s"] for r in mine), 2),
            "gaps_s_mean_total": round(statistics.fmean(sum(r["gaps_s"]) for r in mine), 2),
            "evaluate_s_mean": round(statistics.fmean(r["evaluate_s"] for r in mine), 2)}
    offs = [r["fit_s"] for r in runs if not r["autotune"]]
    ons = [r["fit_s"] for r in runs if r["autotune"]]
    out["fit_s_on_minus_off_per_pair"] = [round(b - a, 2) for a, b in zip(offs, ons)]
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument("--core", type=int, help="pin every run to this core")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/tf_data_autotune.json"))
    parser.add_argument("--one", choices=("on", "off"), help=argparse.SUPPRESS)  # a child: one run, JSON out
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(one_run(args.one == "on")))
        return 0
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    runs = []
    for pair in range(args.pairs):
        for autotune in (False, True):
            runs.append(_child(autotune, args.core))
            logger.info("pair %d, autotune %s: %s", pair, autotune, runs[-1])
    payload = {"benchmark": "tf_data_autotune", "command": " ".join(["python -m benchmarks.tf_data_autotune",
                                                                      *(argv or sys.argv[1:])]),
               "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "runs": runs,
               "summary": summary(runs)}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(payload, indent=1) + "\n", encoding="utf-8")
    logger.info("summary: %s", payload["summary"])
    return 0


if __name__ == "__main__":
    sys.exit(main())

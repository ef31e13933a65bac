"""Time of each step of a search trial for the default demo (`nas demo`'s config), and the share of
trial time that is neither training nor TensorFlow's converter.

    .venv/bin/python benchmarks/search_steps.py [--n-trials N] [--markdown docs/search_steps.md]

Runs the packaged default search into a fresh temporary runs folder and reads the per-step timings
every trial records (study user attribute ``timings_s``). Steps: ``propose`` (Optuna sampler),
``build`` (Keras model, twice: untrained and for training), ``convert`` (TFLite int8 converter,
twice: untrained with random calibration, trained with data), ``profile`` (LiteRT latency),
``train`` (proxy training), ``evaluate_int8`` (the .tflite through the interpreter), ``save_keras``
(trained model to disk), ``bookkeeping`` (duplicate lookup, study writes, glue).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

STEPS = {
    "propose": ("propose",),
    "build": ("build", "build_for_training"),
    "convert": ("convert_untrained", "convert"),
    "profile": ("profile",),
    "train": ("train",),
    "evaluate_int8": ("evaluate_int8",),
    "save_keras": ("save_keras",),
    "bookkeeping": ("bookkeeping",),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-trials", type=int, default=None, help="default: the demo's")
    parser.add_argument("--markdown", type=Path, default=None, help="also write the table to this file")
    args = parser.parse_args(argv)

    start = time.perf_counter()
    from search_spaces.keras_backend import tf  # noqa: F401  (import cost counted as setup)

    import_s = time.perf_counter() - start
    from nas.config import load_config
    from nas.record import study as record
    from nas.strategies import run_search

    with tempfile.TemporaryDirectory() as tmp:
        overrides = {"study.runs_dir": str(Path(tmp) / "runs")}
        if args.n_trials:
            overrides["strategy.n_trials"] = args.n_trials
        config = load_config(overrides=overrides)
        summary = run_search(config, progress="quiet")
        study = record.open_study(config.study.name, runs_dir=config.study.runs_dir)
        trials = [t for t in study.get_trials() if record.is_done(t)]
    wall_s = time.perf_counter() - start

    per_step = {name: 0.0 for name in STEPS}
    trial_total = 0.0
    rows = []
    for trial in trials:
        timings = trial.user_attrs["timings_s"]
        trial_total += timings["total"]
        values = {name: sum(timings.get(k, 0.0) for k in keys) for name, keys in STEPS.items()}
        for name, value in values.items():
            per_step[name] += value
        reused = trial.user_attrs.get("reused_from")
        rows.append((trial.number, trial.user_attrs["status"] + (f" (reused {reused})" if reused is not None else ""),
                     timings["total"], values))
    neither = trial_total - per_step["train"] - per_step["convert"]
    lines = [
        f"Default demo search: {len(trials)} trials, {config.dataset.name}, "
        f"{config.search_space_resolutions} px, {config.training.epochs} epochs, "
        f"local profiler ({config.profiler.runs} runs).",
        f"Machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}.",
        "",
        "| step | total s | mean s per trial | share of trial time |",
        "|---|---:|---:|---:|",
    ]
    for name, value in per_step.items():
        lines.append(f"| {name} | {value:.1f} | {value / max(1, len(trials)):.2f} | {value / trial_total:.1%} |")
    lines += [
        f"| **all trials** | {trial_total:.1f} | {trial_total / max(1, len(trials)):.2f} | 100% |",
        "",
        f"Share of trial time that is neither training nor the TFLite converter: "
        f"**{neither / trial_total:.1%}** ({neither:.1f} s of {trial_total:.1f} s).",
        f"Outside trials: TensorFlow import {import_s:.1f} s; dataset load, study setup and the rest "
        f"{summary.elapsed_s - trial_total:.1f} s. Wall time of the whole search: {wall_s:.1f} s.",
        "",
        "| trial | status | total s | " + " | ".join(STEPS) + " |",
        "|---:|---|---:|" + "---:|" * len(STEPS),
    ]
    for number, status, total, values in rows:
        lines.append(f"| {number} | {status} | {total:.1f} | " + " | ".join(f"{values[n]:.2f}" for n in STEPS) + " |")
    text = "\n".join(lines)
    print(text)
    if args.markdown:
        args.markdown.write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())

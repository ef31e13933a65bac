"""Supernet ranking benchmark (issue 16; protocol, targets and results in docs/supernet.md).

Does the int8 accuracy a subnet inherits from the supernet rank architectures like the int8 accuracy of
the same architecture trained from scratch with the per-trial proxy budget? Fashion-MNIST at 32 px, the
default space; subnets = MobileNetV2 0.35 and 1.0 + random ones (seeded). Phases, each resumable (a
finished item is read back, not redone), so two processes can run ``scratch`` and ``supernet,inherit``
side by side on two cores:

* ``scratch``: ``evaluators.TrainingEvaluator`` per subnet, the Fashion-MNIST benchmark's proxy budget
  (benchmarks/search_vs_mobilenetv2/full.yaml: 10 % of the training data, 3 epochs, batch 128);
* ``supernet``: ``evaluators.supernet.train_supernet`` (checkpoint per epoch);
* ``inherit``: ``evaluators.supernet.SupernetEvaluator`` per subnet (extract, BatchNorm recalibration,
  int8, LiteRT accuracy on the same 6,000 validation images);
* ``report``: Kendall tau and Spearman rho, seconds per candidate, supernet minutes, load -> JSON.

Run: ``python -m benchmarks.supernet_ranking --phase all`` (``--json`` prints the result).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

logger = logging.getLogger("supernet_ranking")

DATA_DIR = "/usr/share/datasets/fashion-mnist"
RESOLUTION = 32
BASELINES = ("mobilenet_v2_0.35", "mobilenet_v2_1.0")
PHASES = ("scratch", "supernet", "inherit", "report")


def _space() -> Any:
    from search_spaces import SearchSpace

    return SearchSpace.default().with_input(resolutions=[RESOLUTION], channels=1, num_classes=10)


def subnets(n: int, seed: int) -> list[tuple[str, Any]]:
    """``(name, architecture)``: the two MobileNetV2 points, then distinct random subnets (seeded)."""
    from evaluators.supernet.layout import SupernetLayout
    from search_spaces import get_baseline

    space = _space()
    out = [(name, get_baseline(name).with_input(resolution=RESOLUTION, channels=1, num_classes=10))
           for name in BASELINES]
    for _, arch in out:
        space.choices_of(arch)  # raises if MobileNetV2 were not a point of the space
    layout, rng, seen = SupernetLayout(space), random.Random(seed), {a.to_string() for _, a in out}
    while len(out) < n:
        arch = layout.sample(rng)
        if arch.to_string() not in seen:
            seen.add(arch.to_string())
            out.append((f"random_{len(out) - len(BASELINES) + 1:02d}", arch))
    return out


def _scratch_dataset() -> Any:
    from evaluators import DatasetConfig

    return DatasetConfig(name="fashion-mnist", data_dir=DATA_DIR, fraction=0.1, val_fraction=0.1)


def _supernet_dataset(args: argparse.Namespace) -> Any:
    from evaluators import DatasetConfig

    return DatasetConfig(name="fashion-mnist", data_dir=DATA_DIR, fraction=args.data_fraction, val_fraction=0.1)


def _train_config(args: argparse.Namespace) -> Any:
    from evaluators.supernet import SupernetTrainConfig

    return SupernetTrainConfig(epochs=args.epochs, batch_size=args.batch_size, learning_rate=args.lr,
                               sandwich_random_subnets=args.sandwich, distillation=not args.no_distillation,
                               seed=_train_seed(args), shrinking=args.shrinking)


def _shrinking_arg(text: str) -> Any:
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise argparse.ArgumentTypeError(f"not YAML: {str(exc).splitlines()[0]}") from None


def _train_seed(args: argparse.Namespace) -> int:
    """The supernet's training seed: ``--train-seed``, else ``--seed`` (which also picks the subnets)."""
    return args.seed if args.train_seed is None else args.train_seed


def _load(event: str) -> dict[str, Any]:
    return {"event": event, "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "loadavg": [round(v, 2) for v in os.getloadavg()]}


def _append_load(work: Path, event: str) -> None:
    with (work / "load.jsonl").open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(_load(event)) + "\n")


def _write(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=1), encoding="utf-8")
    os.replace(tmp, path)


def _evaluate_all(kind: str, work: Path, nets: list[tuple[str, Any]], evaluate: Any) -> None:
    from tqdm import tqdm

    folder = work / kind
    folder.mkdir(parents=True, exist_ok=True)
    for name, arch in tqdm(nets, desc=kind, unit="net"):
        path = folder / f"{name}.json"
        if path.exists():
            continue
        load_before = os.getloadavg()
        result = evaluate(arch, folder / name)
        record = result.to_dict() | {"name": name, "loadavg_before": list(load_before),
                                     "loadavg_after": list(os.getloadavg())}
        _write(path, record)
        logger.info("%s %s: int8 accuracy %s in %.1f s (load %.2f)", kind, name, result.accuracy_int8,
                    result.timings_s.get("total", float("nan")), os.getloadavg()[0])


def phase_scratch(args: argparse.Namespace, work: Path, nets: list[tuple[str, Any]]) -> None:
    from evaluators import TrainConfig, TrainingEvaluator

    evaluator = TrainingEvaluator(_scratch_dataset(), TrainConfig(epochs=3, batch_size=128, seed=args.scratch_seed),
                                  measure_latency=False, save_keras_model=False)
    _append_load(work, "scratch_start")
    _evaluate_all("scratch", work, nets, evaluator.evaluate)
    _append_load(work, "scratch_end")


def phase_supernet(args: argparse.Namespace, work: Path) -> None:
    from evaluators.supernet import train_supernet

    _append_load(work, "supernet_start")
    train_supernet(_space(), _supernet_dataset(args), _train_config(args), work / "supernet", progress=True)
    _append_load(work, "supernet_end")


def phase_inherit(args: argparse.Namespace, work: Path, nets: list[tuple[str, Any]]) -> None:
    from evaluators.supernet import Supernet, SupernetEvaluator

    supernet = Supernet.load(work / "supernet", space=_space(), dataset_name="fashion-mnist")
    # The search's settings (nas/trial/supernet.py): no Keras float evaluation, no model.keras save.
    evaluator = SupernetEvaluator(supernet, _supernet_dataset(args), bn_calibration_images=args.bn_images,
                                  seed=args.seed, save_keras_model=False, keras_accuracy=args.keras_accuracy)
    _append_load(work, "inherit_start")
    _evaluate_all("inherit", work, nets, evaluator.evaluate)
    _append_load(work, "inherit_end")


def seed_scratch(source: Path, work: Path, nets: list[tuple[str, Any]]) -> int:
    """Write ``work/scratch/<name>.json`` from the rows of an earlier result JSON (``--scratch-from``), so a
    supernet variant is ranked against the same scratch trainings; returns how many were written."""
    rows = {row["name"]: row for row in json.loads(source.read_text(encoding="utf-8"))["rows"]}
    folder, written = work / "scratch", 0
    folder.mkdir(parents=True, exist_ok=True)
    for name, arch in nets:
        row = rows.get(name)
        if row is None or row["accuracy_int8_scratch"] is None or (folder / f"{name}.json").exists():
            continue
        if row["architecture"] != arch.to_string():
            raise ValueError(f"--scratch-from {source}: {name} is {row['architecture']}, this run has {arch}")
        _write(folder / f"{name}.json", {
            "name": name, "accuracy_int8": row["accuracy_int8_scratch"],
            "keras_accuracy": row["keras_accuracy_scratch"],
            "params": row["params"], "macs": row["macs"], "timings_s": row["seconds_scratch"],
            "loadavg_before": row["loadavg_scratch"], "copied_from": str(source)})
        written += 1
    return written


def _read(folder: Path, name: str) -> dict[str, Any] | None:
    path = folder / f"{name}.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None


def phase_report(args: argparse.Namespace, work: Path, nets: list[tuple[str, Any]]) -> dict[str, Any]:
    from scipy.stats import kendalltau, spearmanr

    from evaluators.supernet.store import read_manifest

    rows = []
    for name, arch in nets:
        scratch, inherit = _read(work / "scratch", name), _read(work / "inherit", name)
        rows.append({
            "name": name, "architecture": arch.to_string(),
            "accuracy_int8_inherited": inherit and inherit["accuracy_int8"],
            "accuracy_int8_scratch": scratch and scratch["accuracy_int8"],
            "keras_accuracy_inherited": inherit and inherit.get("keras_accuracy"),
            "keras_accuracy_scratch": scratch and scratch["keras_accuracy"],
            "params": (inherit or scratch or {}).get("params"), "macs": (inherit or scratch or {}).get("macs"),
            "seconds_inherited": inherit and inherit["timings_s"], "seconds_scratch": scratch and scratch["timings_s"],
            "loadavg_inherited": inherit and inherit["loadavg_before"],
            "loadavg_scratch": scratch and scratch["loadavg_before"],
        })
    both = [r for r in rows if r["accuracy_int8_inherited"] is not None and r["accuracy_int8_scratch"] is not None]
    inherited = [r["accuracy_int8_inherited"] for r in both]
    scratch = [r["accuracy_int8_scratch"] for r in both]
    tau = kendalltau(inherited, scratch).statistic if len(both) > 1 else None
    rho = spearmanr(inherited, scratch).statistic if len(both) > 1 else None
    totals = [r["seconds_inherited"]["total"] for r in rows if r["seconds_inherited"]]
    manifest = read_manifest(work / "supernet")
    loads = [json.loads(line) for line in (work / "load.jsonl").read_text().splitlines()] \
        if (work / "load.jsonl").exists() else []
    return {
        "benchmark": "supernet_ranking", "command": " ".join([Path(sys.executable).name, "-m",
                                                               "benchmarks.supernet_ranking", *sys.argv[1:]]),
        "kendall_tau": tau, "spearman": rho, "n_subnets": len(both), "n_planned": len(nets),
        "seconds_per_candidate": statistics.mean(totals) if totals else None,
        "seconds_per_candidate_without_keras_save_and_eval": statistics.mean(
            [r["seconds_inherited"]["total"] - r["seconds_inherited"].get("save", 0)
             - r["seconds_inherited"].get("keras_evaluate", 0) for r in rows if r["seconds_inherited"]])
        if totals else None,
        "supernet_train_minutes": manifest.train_seconds / 60 if manifest else None,
        "supernet": {"epochs_done": manifest.epochs_done, "finished": manifest.finished,
                     "config": manifest.config.to_dict(), "history": list(manifest.history)} if manifest else None,
        "supernet_dataset": _supernet_dataset(args).to_dict(), "scratch_dataset": _scratch_dataset().to_dict(),
        "scratch_training": {"epochs": 3, "batch_size": 128, "seed": args.scratch_seed},
        "bn_calibration_images": args.bn_images,
        "targets": {"kendall_tau": ">= 0.6", "seconds_per_candidate": "<= 5", "supernet_train_minutes": "<= 90"},
        "seed": args.seed, "train_seed": _train_seed(args), "load": loads, "rows": rows,
        "finished": len(both) == len(nets) and bool(manifest and manifest.finished),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--phase", default="all", help=f"comma-separated of {', '.join(PHASES)}, or all")
    parser.add_argument("--work-dir", type=Path, default=Path("runs/benchmarks/supernet_ranking"))
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/supernet_ranking.json"))
    parser.add_argument("--subnets", type=int, default=24)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--train-seed", type=int,
                        help="seed of the supernet training only (default: --seed); the subnets stay those of --seed")
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--data-fraction", type=float, default=0.4, help="share of the training split (supernet)")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--sandwich", type=int, default=2, help="random subnets per step")
    parser.add_argument("--no-distillation", action="store_true")
    parser.add_argument("--shrinking", type=_shrinking_arg, default=(),
                        help="progressive shrinking, a YAML list per leading epoch, e.g. '[[], [kernel, depth]]'")
    parser.add_argument("--bn-images", type=int, default=500)
    parser.add_argument("--keras-accuracy", action="store_true",
                        help="also score each subnet's float Keras model (off in a search, so off here by default)")
    parser.add_argument("--scratch-seed", type=int, default=0,
                        help="training seed of the scratch phase (initial weights; data and order stay the same)")
    parser.add_argument("--scratch-from", type=Path, help="take the scratch phase's results from this result JSON")
    parser.add_argument("--json", action="store_true", help="print the result JSON")
    args = parser.parse_args(argv)
    phases = PHASES if args.phase == "all" else tuple(p.strip() for p in args.phase.split(","))
    unknown = sorted(set(phases) - set(PHASES))
    if unknown:
        print(f"error: unknown phase(s) {unknown}; choose from {', '.join(PHASES)} or all", file=sys.stderr)
        return 2
    work = args.work_dir
    work.mkdir(parents=True, exist_ok=True)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s",
                        handlers=[logging.FileHandler(work / "benchmark.log"), logging.StreamHandler()])
    nets = subnets(args.subnets, args.seed)
    logger.info("phases %s, %d subnets, load %s", phases, len(nets), os.getloadavg())
    if args.scratch_from:
        try:
            logger.info("scratch results of %d subnets copied from %s", seed_scratch(args.scratch_from, work, nets),
                        args.scratch_from)
        except (OSError, ValueError, KeyError) as exc:
            print(f"error: --scratch-from {args.scratch_from}: {exc}", file=sys.stderr)
            return 2
    if "scratch" in phases:
        phase_scratch(args, work, nets)
    if "supernet" in phases:
        try:
            _train_config(args)
        except ValueError as exc:
            print(f"error: supernet training: {exc}", file=sys.stderr)
            return 2
        phase_supernet(args, work)
    if "inherit" in phases:
        phase_inherit(args, work, nets)
    if "report" in phases:
        result = phase_report(args, work, nets)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        _write(args.out, result)
        logger.info("kendall tau %s, spearman %s over %d subnets; %s s per candidate; supernet %s min",
                    result["kendall_tau"], result["spearman"], result["n_subnets"], result["seconds_per_candidate"],
                    result["supernet_train_minutes"])
        if args.json:
            print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""When does the supernet's ranking noise arise? Epoch-3 weights, epoch-4 weights and their average
(docs/supernet.md, "Where the supernet's noise enters").

Every ``base`` supernet training (seeds 0-3) kept its checkpoints after epochs 3 and 4. This derives,
per training, two new supernet folders: ``e3`` (the epoch-3 weights) and ``avg`` (the element-wise mean
of the two; checkpoint averaging, Vaswani et al. 2017; Izmailov et al. 2018, "Averaging weights leads
to wider optima and better generalization"), and scores them as ``benchmarks.supernet_ranking`` scores
any supernet. The read-out compares them with the trained supernet (``e4``, the committed
``supernet_seeds/base_s<seed>.json``): tau within a training (``e3`` against ``e4``), against scratch
seed 0, and between trainings. Bootstrap as in :mod:`benchmarks.supernet_yardstick`.

Run: ``python -m benchmarks.supernet_checkpoints`` (derive and score what is missing, then the
read-out), or ``--read-out`` alone.
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import logging
import statistics
import sys
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.supernet_knobs import RESAMPLES, SEED, _interval, _tau
from benchmarks.supernet_yardstick import Column, column, reading

logger = logging.getLogger("supernet_checkpoints")

RESULTS = Path("benchmarks/results")
OUT = RESULTS / "supernet_checkpoints"
WORK = Path("runs/benchmarks/supernet_checkpoints")
SCRATCH = RESULTS / "supernet_ranking.json"
SOURCES = {0: Path("runs/benchmarks/supernet_knobs/base/supernet"),
           **{s: Path(f"runs/benchmarks/supernet_seeds/base_s{s}/supernet") for s in (1, 2, 3)}}
VARIANTS = ("e3", "avg")
DERIVED = "checkpoints/derived"


def _epoch_weights(network: Any, prefix: Path) -> dict[str, np.ndarray]:
    from search_spaces.keras_backend import tf

    tf.train.Checkpoint(net=network).read(str(prefix)).expect_partial().assert_existing_objects_matched()
    return {name: variable.numpy() for name, variable in network.weights.items()}


def derive(source: Path, dest: Path, variant: str, space: Any = None) -> Path:
    """A finished supernet folder at ``dest`` holding ``variant``'s weights of the 4-epoch training in
    ``source`` (trained for ``space``, by default the benchmark's)."""
    from benchmarks.supernet_ranking import _space
    from evaluators.supernet.layout import SupernetLayout
    from evaluators.supernet.network import SupernetNetwork
    from evaluators.supernet.store import read_manifest, write_manifest
    from search_spaces.keras_backend import tf

    manifest = read_manifest(source)
    if manifest is None or not manifest.finished or manifest.epochs_done != 4:
        raise ValueError(f"{source}: not a finished 4-epoch supernet")
    space = space or _space()
    if variant not in VARIANTS:
        raise ValueError(f"unknown variant {variant!r}; choose from {', '.join(VARIANTS)}")
    if manifest.space != space.to_dict():
        raise ValueError(f"{source}: trained for another space than the benchmark's")
    network = SupernetNetwork(SupernetLayout(space), seed=manifest.config.seed, bn_momentum=manifest.config.bn_momentum)
    third = _epoch_weights(network, source / "checkpoints" / "epoch-0003")
    if variant == "avg":
        fourth = _epoch_weights(network, source / "checkpoints" / "epoch-0004")
        third = {name: (third[name] + fourth[name]) / 2 for name in third}
    for name, variable in network.weights.items():
        variable.assign(third[name])
    dest.mkdir(parents=True, exist_ok=True)
    tf.train.Checkpoint(net=network).write(str(dest / DERIVED))
    write_manifest(dest, dataclasses.replace(manifest, checkpoint=DERIVED))
    return dest


def score(seed: int, variant: str) -> Path:
    """Derive (if needed) and score ``variant`` of training ``seed``; returns the result JSON."""
    from benchmarks import supernet_ranking

    out = OUT / f"{variant}_s{seed}.json"
    if out.exists():
        return out
    work = WORK / f"{variant}_s{seed}"
    if not (work / "supernet" / "supernet.json").exists():
        derive(SOURCES[seed], work / "supernet", variant)
    out.parent.mkdir(parents=True, exist_ok=True)
    code = supernet_ranking.main(["--phase", "inherit,report", "--work-dir", str(work), "--out", str(out),
                                  "--scratch-from", str(SCRATCH)])
    if code != 0:
        raise RuntimeError(f"scoring {variant} of seed {seed} failed (exit {code})")
    return out


def _load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def _paired(x: Column, y: Column, ref: Column, names: list[str], draws: np.ndarray) -> dict[str, Any]:
    """tau(x, ref) - tau(y, ref), with its paired bootstrap interval (the same resampled subnets)."""
    a, b, r = (np.array([c[n] for n in names]) for c in (x, y, ref))
    diffs = [_tau(a[idx], r[idx]) - _tau(b[idx], r[idx]) for idx in draws]
    return {"difference": round(_tau(a, r) - _tau(b, r), 4), "ci95": _interval(diffs)}


def read_out(results: Path = RESULTS, seeds: tuple[int, ...] = (0, 1, 2, 3), *,
             resamples: int = RESAMPLES) -> dict[str, Any]:
    """The three readings of the protocol, from the result JSONs under ``results``: ``supernet_ranking.json``
    (scratch seed 0), ``supernet_seeds/base_s<seed>.json`` (e4) and ``supernet_checkpoints/<variant>_s<seed>.json``."""
    archs: dict[str, str] = {}
    scratch = column(_load(results / SCRATCH.name), "accuracy_int8_scratch", archs)
    cols = {(v, s): column(_load(results / OUT.name / f"{v}_s{s}.json"), "accuracy_int8_inherited", archs)
            for v in VARIANTS for s in seeds}
    cols |= {("e4", s): column(_load(results / "supernet_seeds" / f"base_s{s}.json"), "accuracy_int8_inherited", archs)
             for s in seeds}
    names = sorted(set(scratch).intersection(*(set(c) for c in cols.values())))
    if len(names) < 3:
        raise ValueError(f"only {len(names)} subnets are scored in every result")
    draws = np.random.default_rng(SEED).integers(0, len(names), size=(resamples, len(names)))
    ref = ("scratch seed 0", scratch)
    within = {s: dataclasses.asdict(reading((f"e3 s{s}", cols["e3", s]), (f"e4 s{s}", cols["e4", s]), draws, names))
              for s in seeds}
    against = {v: {s: dataclasses.asdict(reading((f"{v} s{s}", cols[v, s]), ref, draws, names)) for s in seeds}
               for v in ("e3", "avg", "e4")}
    paired = {s: _paired(cols["avg", s], cols["e4", s], scratch, names, draws) for s in seeds}
    between = {v: [_tau(np.array([cols[v, a][n] for n in names]), np.array([cols[v, b][n] for n in names]))
                   for a, b in itertools.combinations(seeds, 2)] for v in ("e4", "avg")}
    means = {v: round(statistics.fmean(r["kendall_tau"] for r in against[v].values()), 4) for v in against}
    avg_wins = sum(paired[s]["difference"] > 0 for s in seeds)
    within_mean = statistics.fmean(w["kendall_tau"] for w in within.values())
    return {
        "benchmark": "supernet_checkpoints", "n_subnets": len(names), "seeds": list(seeds), "resamples": resamples,
        "within_training_e3_vs_e4": within,
        "within_training_mean_tau": round(within_mean, 4),
        "against_scratch_seed0": against, "against_scratch_seed0_mean": means,
        "avg_minus_e4": paired, "avg_beats_e4_in": avg_wins,
        "between_trainings_mean_tau": {v: round(statistics.fmean(t), 4) for v, t in between.items()},
        "rule": {"settled_by_epoch3": within_mean >= 0.8,
                 "averaging_becomes_an_option": avg_wins >= 3 and means["avg"] - means["e4"] >= 0.05},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--read-out", action="store_true", help="only the read-out, from the result JSONs")
    parser.add_argument("--json", action="store_true", help="print the read-out JSON")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    try:
        if not args.read_out:
            for seed, variant in itertools.product(sorted(SOURCES), VARIANTS):
                logger.info("%s of training seed %d: %s", variant, seed, score(seed, variant))
        payload = read_out(RESULTS)
    except (OSError, ValueError, KeyError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    (RESULTS / "supernet_checkpoints.json").write_text(json.dumps(payload, indent=1) + "\n", encoding="utf-8")
    logger.info("e3 vs e4 within a training: mean tau %.3f; against scratch seed 0 (mean): %s; avg beats e4 in %d; "
                "between trainings: %s; rule %s", payload["within_training_mean_tau"],
                payload["against_scratch_seed0_mean"], payload["avg_beats_e4_in"],
                payload["between_trainings_mean_tau"], payload["rule"])
    if args.json:
        print(json.dumps(payload))
    return 0


if __name__ == "__main__":
    sys.exit(main())

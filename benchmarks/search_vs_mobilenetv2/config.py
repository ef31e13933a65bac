"""The benchmark's YAML: a `nas search` config shared by both studies plus the benchmark's own keys.

    name: fmnist_vs_mnv2          # studies <name>_<strategy> in <runs_dir>/
    runs_dir: runs/benchmarks
    n_trials: 24                  # per study, the MobileNetV2 reference trial included
    round_trials: 4               # the studies advance alternately by this many trials
    strategies: {searched: nsga2, control: random}
    search: {...}                 # any `nas search` config sections (nas/default_search.yaml)
    baselines: {widths: [...], resolutions: [...]}   # plus the search's own resolutions
    targets: {min_speedup: 2.5}
    final: {remeasure_latency: true, latency_repeats: 5, test_batch_size: 256, hypervolume_reference: null}
    output: {json: ..., png: ..., doc: ...}

Everything that scales the benchmark (data fraction, epochs, resolutions, trials, profiler, Ray
backend) is configuration; the code has no machine-specific constant.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

DEFAULTS: dict[str, Any] = {
    "name": None,
    "runs_dir": "runs/benchmarks",
    "n_trials": None,
    "round_trials": 4,
    "strategies": {"searched": "nsga2", "control": "random"},
    "search": {},
    "baselines": {"widths": ["0.35", "0.5", "0.75", "1.0"], "resolutions": [32]},
    "targets": {"min_speedup": 2.5},
    "final": {"remeasure_latency": True, "latency_repeats": 5, "test_batch_size": 256, "hypervolume_reference": None},
    "output": {"json": None, "png": None, "doc": None},
}
# Search keys the benchmark sets itself, per study.
_RESERVED_SEARCH_KEYS = {("study", "name"), ("study", "runs_dir"), ("strategy", "name"), ("strategy", "n_trials")}


class BenchmarkConfigError(ValueError):
    """The benchmark YAML is invalid; the message names the key."""


@dataclass(frozen=True)
class BenchmarkConfig:
    name: str
    runs_dir: Path
    n_trials: int
    round_trials: int
    searched_strategy: str
    control_strategy: str
    search: dict[str, Any]
    widths: tuple[str, ...]
    baseline_resolutions: tuple[int, ...]
    min_speedup: float
    remeasure_latency: bool
    latency_repeats: int
    test_batch_size: int
    hypervolume_reference: dict[str, float] | None
    json_path: Path
    png_path: Path
    doc_path: Path
    source: Path

    @property
    def bench_dir(self) -> Path:
        return self.runs_dir / self.name

    def study_name(self, strategy: str) -> str:
        return f"{self.name}_{strategy}"

    def search_resolutions(self) -> tuple[int, ...]:
        resolutions = (self.search.get("search_space") or {}).get("resolutions")
        if not resolutions:
            raise BenchmarkConfigError("search.search_space.resolutions: the benchmark needs explicit resolutions")
        return tuple(int(r) for r in resolutions)

    def grid_resolutions(self) -> tuple[int, ...]:
        """MobileNetV2 resolutions: the configured ones and the search's own."""
        return tuple(sorted(set(self.baseline_resolutions) | set(self.search_resolutions())))


def _merge(base: dict[str, Any], user: Mapping[str, Any], prefix: str = "") -> None:
    for key, value in user.items():
        if key not in base:
            raise BenchmarkConfigError(f"unknown key {prefix}{key!r}; allowed: {', '.join(prefix + k for k in base)}")
        if isinstance(base[key], dict) and key != "search" and base[key]:
            if not isinstance(value, dict):
                raise BenchmarkConfigError(f"{prefix}{key}: expected a mapping, got {value!r}")
            _merge(base[key], value, f"{prefix}{key}.")
        else:
            base[key] = value


def _positive_int(key: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise BenchmarkConfigError(f"{key}: expected an integer >= 1, got {value!r}")
    return value


def load_benchmark_config(path: str | Path) -> BenchmarkConfig:
    """Read and validate a benchmark YAML (see the module docstring)."""
    path = Path(path)
    if not path.is_file():
        raise BenchmarkConfigError(f"benchmark config {path} does not exist")
    user = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(user, dict):
        raise BenchmarkConfigError(f"{path}: expected a mapping at the top level")
    tree = copy.deepcopy(DEFAULTS)
    _merge(tree, user)
    if not isinstance(tree["name"], str) or not tree["name"] or "/" in tree["name"]:
        raise BenchmarkConfigError(f"name: expected a plain folder name, got {tree['name']!r}")
    search = tree["search"]
    if not isinstance(search, dict):
        raise BenchmarkConfigError("search: expected a mapping of `nas search` config sections")
    for section, key in _RESERVED_SEARCH_KEYS:
        if key in (search.get(section) or {}):
            raise BenchmarkConfigError(f"search.{section}.{key} is set by the benchmark; use the top-level keys")
    strategies = tree["strategies"]
    if set(strategies) != {"searched", "control"} or strategies["searched"] == strategies["control"]:
        raise BenchmarkConfigError(
            f"strategies: expected two different strategies, searched and control; got {strategies}")
    widths = tuple(str(w) for w in tree["baselines"]["widths"])
    for required in ("0.35", "1.0"):
        if required not in widths:
            raise BenchmarkConfigError(f"baselines.widths must include {required} (the targets compare against it)")
    min_speedup = tree["targets"]["min_speedup"]
    if isinstance(min_speedup, bool) or not isinstance(min_speedup, (int, float)) or min_speedup <= 0:
        raise BenchmarkConfigError(f"targets.min_speedup: expected a number > 0, got {min_speedup!r}")
    out = tree["output"]
    stem = f"search_vs_mobilenetv2_{tree['name']}"
    config = BenchmarkConfig(
        name=tree["name"],
        runs_dir=Path(tree["runs_dir"]),
        n_trials=_positive_int("n_trials", tree["n_trials"]),
        round_trials=_positive_int("round_trials", tree["round_trials"]),
        searched_strategy=str(strategies["searched"]),
        control_strategy=str(strategies["control"]),
        search=search,
        widths=widths,
        baseline_resolutions=tuple(int(r) for r in tree["baselines"]["resolutions"]),
        min_speedup=float(min_speedup),
        remeasure_latency=bool(tree["final"]["remeasure_latency"]),
        latency_repeats=_positive_int("final.latency_repeats", tree["final"]["latency_repeats"]),
        test_batch_size=_positive_int("final.test_batch_size", tree["final"]["test_batch_size"]),
        hypervolume_reference=tree["final"]["hypervolume_reference"],
        json_path=Path(out["json"] or f"benchmarks/results/{stem}.json"),
        png_path=Path(out["png"] or f"benchmarks/results/{stem}.png"),
        doc_path=Path(out["doc"] or f"benchmarks/results/{stem}.md"),
        source=path,
    )
    config.search_resolutions()
    return config

"""The benchmark-v2 run configuration (``benchmarks/v2/cpu.yaml``, ``smoke.yaml``): a frozen value.

Everything a stage needs is in the file, so a GPU machine runs the same code by configuration
only (docs/benchmark_v2_protocol.md, section 7). A bad file stops with a one-line error naming the key.
"""

from __future__ import annotations

import copy
import dataclasses
from pathlib import Path
from typing import Any

import yaml

#: Stage-1 strategies (protocol section 2) -> what they add to the shared ``nas search`` config.
STRATEGIES: dict[str, dict[str, Any]] = {
    "random": {"strategy": {"name": "random"}},
    "nsga2": {"strategy": {"name": "nsga2"}},
    "nsga2+early_stopping": {"strategy": {"name": "nsga2"}},
    "nsga2+supernet": {"strategy": {"name": "nsga2"}, "evaluator": {"name": "supernet"}},
}


class V2ConfigError(ValueError):
    """The benchmark configuration is invalid; the message names the key."""


@dataclasses.dataclass(frozen=True)
class HypervolumeReference:
    """The fixed reference point of the protocol (section 2): worse than any model that counts."""

    accuracy: float
    latency_ms_p50: float
    size_bytes: int


@dataclasses.dataclass(frozen=True)
class Stage2Settings:
    """The real budget (protocol section 4): every model trained ``epochs`` on ``fraction`` of the training
    split (after the validation images are set apart), the MobileNetV2 family, its stride-1-stem variants
    and the plain CNN beside the finalists."""

    epochs: int
    batch_size: int
    fraction: float
    baselines: tuple[str, ...]
    units_dir: Path | None = None  # None: <folder>/stage2/units


@dataclasses.dataclass(frozen=True)
class V2Config:
    """One benchmark-v2 configuration. ``search`` is a ``nas search`` config shared by every stage-1 run."""

    name: str
    out_dir: Path
    seeds: tuple[int, ...]
    cores: tuple[int, ...]
    minutes_per_run: float
    strategies: tuple[str, ...]
    search: dict[str, Any]
    early_stopping: dict[str, Any]
    supernet: dict[str, Any]
    baselines: tuple[str, ...]
    hv_reference: HypervolumeReference
    curve_minutes: tuple[float, ...]
    latency_rounds: int
    stage2: Stage2Settings | None = None
    max_finalists: int = 6
    units_dir: Path | None = None  # None: <folder>/stage1/units

    @property
    def stage1_units(self) -> Path:
        """Where each finished stage-1 run's record goes. A folder in the repository (``units_dir``)
        lets stage 1 span sessions whose ``runs/`` folder does not survive: a run with its record
        there is done; a run cut off by the end of a session starts again from nothing."""
        return self.units_dir if self.units_dir is not None else self.folder / "stage1" / "units"

    @property
    def stage2_units(self) -> Path:
        """Where each finished stage-2 unit's record and int8 model go (``stage2.units_dir``): like stage 1's,
        a folder in the repository lets stage 2 span sessions; a unit cut off by a session's end restarts."""
        if self.stage2 is not None and self.stage2.units_dir is not None:
            return self.stage2.units_dir
        return self.folder / "stage2" / "units"

    @property
    def folder(self) -> Path:
        """Where this configuration's state lives: ``<out_dir>/<name>/``."""
        return self.out_dir / self.name

    def search_config(self, strategy: str, seed: int, runs_dir: Path) -> dict[str, Any]:
        """The ``nas search`` config of one stage-1 run (its study is ``<strategy>-seed<seed>``)."""
        config = copy.deepcopy(self.search)
        for section, values in STRATEGIES[strategy].items():
            config.setdefault(section, {}).update(values)
        if strategy == "nsga2+early_stopping":
            config["early_stopping"] = copy.deepcopy(self.early_stopping)
        if strategy == "nsga2+supernet":
            config["evaluator"]["supernet"] = copy.deepcopy(self.supernet)
        config["study"] = {"name": study_name(strategy, seed), "runs_dir": str(runs_dir), "seed": seed}
        config.setdefault("strategy", {})["n_trials"] = 100_000
        return config


def study_name(strategy: str, seed: int) -> str:
    return f"{strategy.replace('+', '-')}-seed{seed}"


def _require(raw: dict[str, Any], key: str, kind: type | tuple[type, ...]) -> Any:
    if key not in raw:
        raise V2ConfigError(f"{key}: missing")
    value = raw[key]
    if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
        raise V2ConfigError(f"{key}: expected {getattr(kind, '__name__', kind)}, got {value!r}")
    return value


def _stage1(raw: dict[str, Any]) -> dict[str, Any]:
    stage1 = _require(raw, "stage1", dict)
    strategies = tuple(_require(stage1, "strategies", list))
    unknown = [s for s in strategies if s not in STRATEGIES]
    if unknown or not strategies:
        raise V2ConfigError(f"stage1.strategies: {unknown or 'empty'} not available; "
                            f"choose from {', '.join(STRATEGIES)}")
    minutes = float(_require(stage1, "minutes_per_run", (int, float)))
    if minutes <= 0:
        raise V2ConfigError(f"stage1.minutes_per_run: must be > 0, got {minutes}")
    reference = _require(stage1, "hv_reference", dict)
    try:
        hv = HypervolumeReference(float(reference["accuracy"]), float(reference["latency_ms_p50"]),
                                  int(reference["size_bytes"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise V2ConfigError(f"stage1.hv_reference: needs accuracy, latency_ms_p50, size_bytes ({exc})") from None
    return {"minutes_per_run": minutes, "strategies": strategies, "hv_reference": hv,
            "search": _require(stage1, "search", dict),
            "early_stopping": dict(stage1.get("early_stopping") or {}),
            "supernet": dict(stage1.get("supernet") or {}),
            "baselines": tuple(stage1.get("baselines") or ()),
            "curve_minutes": tuple(float(m) for m in stage1.get("curve_minutes") or (minutes,)),
            "latency_rounds": int(stage1.get("latency_rounds", 11))}


def _stage2(raw: dict[str, Any]) -> Stage2Settings | None:
    if raw.get("stage2") is None:
        return None
    stage2 = _require(raw, "stage2", dict)
    settings = Stage2Settings(epochs=_require(stage2, "epochs", int), batch_size=_require(stage2, "batch_size", int),
                              fraction=float(_require(stage2, "fraction", (int, float))),
                              baselines=tuple(_require(stage2, "baselines", list)),
                              units_dir=Path(stage2["units_dir"]) if stage2.get("units_dir") else None)
    if settings.epochs < 1 or settings.batch_size < 1 or not 0 < settings.fraction <= 1:
        raise V2ConfigError(f"stage2: epochs and batch_size >= 1, fraction in (0, 1]; got {settings}")
    return settings


def load_v2_config(path: str | Path, *, out_dir: str | Path | None = None) -> V2Config:
    """Read and check a benchmark-v2 YAML file."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise V2ConfigError(f"{path}: cannot read ({exc.strerror})") from None
    except yaml.YAMLError as exc:
        raise V2ConfigError(f"{path}: not valid YAML ({str(exc).splitlines()[0]})") from None
    if not isinstance(raw, dict):
        raise V2ConfigError(f"{path}: expected a mapping at the top")
    seeds = tuple(_require(raw, "seeds", list))
    cores = tuple(_require(raw, "cores", list))
    if not seeds or not cores or not all(isinstance(v, int) for v in seeds + cores):
        raise V2ConfigError("seeds and cores: non-empty lists of integers")
    stage1 = _stage1(raw)
    if stage1["latency_rounds"] < 2:
        raise V2ConfigError(f"stage1.latency_rounds: at least 2, got {stage1['latency_rounds']}")
    return V2Config(name=str(_require(raw, "name", str)),
                    out_dir=Path(out_dir or raw.get("out_dir", "runs/benchmarks/v2")),
                    units_dir=Path(raw["units_dir"]) if raw.get("units_dir") else None,
                    seeds=seeds, cores=cores, stage2=_stage2(raw), **stage1)


__all__ = ["STRATEGIES", "HypervolumeReference", "Stage2Settings", "V2Config", "V2ConfigError", "load_v2_config",
           "study_name"]

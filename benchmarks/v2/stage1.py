"""Stage 1 of benchmark v2: each (strategy, seed) run is ``nas search`` on one pinned core for a fixed
wall clock (docs/benchmark_v2_protocol.md, section 2).

A run's clock survives interruptions: every session of a run is recorded in its ``clock.json`` with
its start and a heartbeat written every :data:`HEARTBEAT_S` seconds; a restarted run gets what is left
of its budget, and a trial's time on the run's clock is its completion time within its session plus
the time of the sessions before. A trial that finished after the clock ran out is not counted.
When a run ends, one JSON per run is written atomically (``units/<study>.json``); a run with that
file is never run again.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import yaml

from benchmarks.v2.config import V2Config, study_name

logger = logging.getLogger(__name__)
HEARTBEAT_S = 10.0
NAS = str(Path(sys.executable).parent / "nas")


def write_json(path: Path, data: Any) -> None:
    """Atomic: a reader sees the old file or the whole new one, never half of it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=1) + "\n")
    os.replace(tmp, path)


def read_json(path: Path) -> Any:
    return json.loads(path.read_text()) if path.is_file() else None


@dataclasses.dataclass(frozen=True)
class Session:
    """One session of a run: unix start, unix last heartbeat, and the run's clock before it (s)."""

    started: float
    heartbeat: float
    elapsed_before_s: float

    @property
    def elapsed_after_s(self) -> float:
        return self.elapsed_before_s + max(0.0, self.heartbeat - self.started)


class RunClock:
    """The wall clock of one run across sessions (``clock.json`` in the run's folder)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.sessions = [Session(**s) for s in (read_json(path) or {}).get("sessions", [])]
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def elapsed_s(self) -> float:
        return self.sessions[-1].elapsed_after_s if self.sessions else 0.0

    def start(self) -> None:
        now = time.time()
        self.sessions.append(Session(now, now, self.elapsed_s))
        self._save()
        self._thread = threading.Thread(target=self._beat, daemon=True)
        self._thread.start()

    def _beat(self) -> None:
        while not self._stop.wait(HEARTBEAT_S):
            self.touch()

    def touch(self) -> None:
        last = self.sessions[-1]
        self.sessions[-1] = dataclasses.replace(last, heartbeat=time.time())
        self._save()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.touch()

    def _save(self) -> None:
        write_json(self.path, {"sessions": [dataclasses.asdict(s) for s in self.sessions]})

    def on_clock_s(self, unix_time: float) -> float | None:
        """Where ``unix_time`` falls on the run's clock (None: outside every recorded session)."""
        for session in self.sessions:
            if session.started <= unix_time <= session.heartbeat + HEARTBEAT_S:
                return session.elapsed_before_s + (unix_time - session.started)
        return None


def _commit() -> str | None:
    """The repository's HEAD when the run ended (which code a record came from), or None outside git."""
    try:  # a missing git must not cost a finished run its record
        done = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=False)
    except OSError:
        return None
    return (done.stdout.strip() or None) if done.returncode == 0 else None


def _load_sample() -> list[float]:
    return [round(v, 2) for v in os.getloadavg()]


def _nas(args: list[str], log: Path, env_extra: dict[str, str] | None = None) -> int:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", **(env_extra or {})}
    with log.open("a") as handle:
        return subprocess.run([NAS, *args], stdout=handle, stderr=subprocess.STDOUT, env=env, check=False).returncode


def _check_exit(name: str, step: str, code: int, log: Path) -> None:
    """``nas search`` exits 1 when it stops at ``strategy.timeout_s`` (expected here); anything else failed."""
    tail = log.read_text(errors="replace")[-4000:] if log.is_file() else ""
    if code == 0 or step == "search" and code == 1 and "strategy.timeout_s" in tail and "incomplete" in tail:
        return
    raise RuntimeError(f"{name}: nas {step} exited {code}; nothing recorded as done, see {log}")


def run_unit(config: V2Config, strategy: str, seed: int) -> dict[str, Any]:
    """Run (or finish) one (strategy, seed) run in this process; returns its unit record."""
    name = study_name(strategy, seed)
    done_path = config.stage1_units / f"{name}.json"
    if done_path.is_file():
        return read_json(done_path)
    runs_dir = config.folder / "stage1" / "studies"
    folder = runs_dir / name
    folder.mkdir(parents=True, exist_ok=True)
    config_path = runs_dir / f"{name}.yaml"
    search = config.search_config(strategy, seed, runs_dir)
    config_path.write_text(yaml.safe_dump(search))
    budget_s = config.minutes_per_run * 60
    clock = RunClock(runs_dir / f"{name}.clock.json")
    clock.start()
    loads = [{"event": "start", "clock_s": clock.elapsed_s, "loadavg": _load_sample()}]
    try:
        log = runs_dir / f"{name}.log"
        if strategy.endswith("supernet") and clock.elapsed_s < budget_s:
            code = _nas(["supernet", "train", "--config", str(config_path), "--quiet"], log)
            loads.append({"event": "supernet_trained", "clock_s": clock.elapsed_s, "loadavg": _load_sample(),
                          "exit": code})
            _check_exit(name, "supernet train", code, log)
        remaining = budget_s - clock.elapsed_s
        if remaining > 0:
            code = _nas(["search", "--config", str(config_path), "--quiet",
                         "--set", f"strategy.timeout_s={remaining:.1f}"], log)
            loads.append({"event": "search_ended", "clock_s": clock.elapsed_s, "loadavg": _load_sample(),
                          "exit": code})
            _check_exit(name, "search", code, log)
    finally:
        clock.stop()
    unit = {"strategy": strategy, "seed": seed, "study": name, "budget_s": budget_s, "commit": _commit(),
            "core": sorted(os.sched_getaffinity(0)), "clock": read_json(clock.path), "loads": loads,
            "trials": unit_trials(runs_dir, name, clock, budget_s)}
    write_json(done_path, unit)
    return unit


def unit_trials(runs_dir: Path, name: str, clock: RunClock, budget_s: float) -> list[dict[str, Any]]:
    """Every finished, non-duplicate trial of the run with its time on the run's clock and whether it counts."""
    from optuna.trial import TrialState

    from nas.record import study as record
    from nas.record.points import point_from_record
    from nas.record.trial_record import TrialRecord, is_done

    study = record.open_study(name, runs_dir=runs_dir)
    rows = []
    for trial in study.get_trials(deepcopy=False):
        if not is_done(trial) or trial.datetime_complete is None:
            continue
        trial_record = TrialRecord.from_trial(trial)
        if trial_record.reused_from is not None:
            continue
        point = point_from_record(trial.number, trial_record)
        on_clock = clock.on_clock_s(trial.datetime_complete.timestamp())
        rows.append({"trial": trial.number, "state": trial.state.name, "architecture": point.architecture,
                     "accuracy": point.accuracy, "latency_ms_p50": point.latency_ms_p50,
                     "size_bytes": point.size_bytes, "feasible": point.feasible,
                     "accuracy_source": point.accuracy_source, "baseline": point.baseline,
                     "complete": trial.state == TrialState.COMPLETE, "clock_s": on_clock,
                     "counted": on_clock is not None and on_clock <= budget_s})
    return rows


def unit_order(config: V2Config) -> list[tuple[str, int, int]]:
    """(strategy, seed, core) in the protocol's fixed order: seed by seed, strategies in the configured
    order, cores alternating (and shifted by the seed, so a strategy does not keep one core)."""
    order = []
    for seed in config.seeds:
        for index, strategy in enumerate(config.strategies):
            order.append((strategy, seed, config.cores[(index + seed) % len(config.cores)]))
    return order


def pending_batches(config: V2Config) -> list[list[tuple[str, int, int]]]:
    """The batches of :func:`unit_order` (``len(cores)`` runs each) that still hold a run without a record."""
    order = unit_order(config)
    width = len(config.cores)
    batches = [[u for u in order[start:start + width]
                if not (config.stage1_units / f"{study_name(u[0], u[1])}.json").is_file()]
               for start in range(0, len(order), width)]
    return [batch for batch in batches if batch]


def run_stage1_units(config: V2Config, config_path: Path,
                     max_batches: int | None = None) -> list[list[tuple[str, int, int]]]:
    """The runs without a record, ``len(cores)`` at a time, each in its own process pinned to its core;
    at most ``max_batches`` batches. Returns the batches still pending (empty: the stage's runs are done)."""
    batches = pending_batches(config)
    for batch in batches[:max_batches]:
        procs = []
        for strategy, seed, core in batch:
            logger.info("stage 1: %s seed %d on core %d for %.1f min", strategy, seed, core, config.minutes_per_run)
            procs.append(subprocess.Popen(
                ["taskset", "-c", str(core), sys.executable, "-m", "benchmarks.v2", "unit", "--config",
                 str(config_path), "--out-dir", str(config.out_dir), "--strategy", strategy, "--seed", str(seed)]))
        failed = [" ".join(p.args[-4:]) for p in procs if p.wait() != 0]
        if failed:
            raise RuntimeError(f"stage 1 run(s) failed: {'; '.join(failed)} (see the .log files under "
                               f"{config.folder / 'stage1' / 'studies'})")
    return pending_batches(config)


def load_units(config: V2Config) -> list[dict[str, Any]]:
    units = [read_json(config.stage1_units / f"{study_name(s, seed)}.json")
             for s, seed, _ in unit_order(config)]
    missing = [study_name(s, seed) for (s, seed, _), u in zip(unit_order(config), units) if u is None]
    if missing:
        raise RuntimeError(f"stage 1 runs not finished: {', '.join(missing)}; "
                           "run `python -m benchmarks.v2 stage1` first")
    return units


__all__ = ["RunClock", "Session", "load_units", "pending_batches", "read_json", "run_stage1_units", "run_unit",
           "unit_order", "unit_trials", "write_json"]

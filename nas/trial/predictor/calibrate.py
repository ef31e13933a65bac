"""Calibration: measure kernel models (and a few whole architectures) of a space, append-only, resumable.

Every measured sample is appended to ``samples.jsonl`` and flushed before the next is built, so a
calibration killed half way, or whose agent becomes unreachable, keeps what it measured; running it
again skips the samples already in the log. The plan is deterministic for a seed: the distinct
kernels of random architectures of the space, then whole architectures (``whole_every``-th sample)
that fit the per-model overhead. Bounded by a budget of minutes; tqdm shows progress and time left.
"""

from __future__ import annotations

import json
import logging
import os
import random
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from nas.trial.predictor.kernels import Kernel, kernels_of
from nas.trial.predictor.model import DeviceKey, Predictor, PredictorError, Sample, fit

logger = logging.getLogger(__name__)

SAMPLES_FILE = "samples.jsonl"
_LATENCY, _P50 = "latency_ms", "p50"  # keys of the profiler result (docs/interfaces.md)
PREDICTOR_FILE = "predictor.json"
KEY_FILE = "device_key.json"


def random_architecture(space: Any, rng: random.Random) -> Any:
    """One architecture of ``space`` with every choice drawn uniformly."""
    return space.architecture({c.name: rng.choice(list(c.values)) for c in space.parameters()})


#: How a calibration orders the kernels it measures (:func:`plan`).
PLANS = ("uniform", "activation")
_ACTIVATION_POOL_ARCHS = 1000


def plan(space: Any, *, seed: int = 0, whole_every: int = 10, limit: int = 100_000,
         weighting: str = "uniform") -> Iterator[tuple[str, Any]]:
    """``(name, Kernel or Architecture)`` to measure: new kernels, every ``whole_every``-th a whole model.

    ``uniform``: the kernels as random architectures bring them, so the few large kernels (the first stages
    at the largest resolution: 6 % of the 7 Dec calibration, 63 % of them within +-10 % against 84 % of the
    rest) come rarely. ``activation``: the distinct kernels of 1,000 random architectures drawn without
    replacement (Efraimidis & Spirakis 2006) with weight half uniform, half proportional to the kernel's
    expanded activation (``in_px^2 x in_channels x expansion``, the widest tensor it reads and writes, the
    one that leaves the caches), a defensive mixture (Hesterberg 1995): about 1.7x as many large kernels
    in the first 200-700 samples (a weight by MACs gave 1.0-1.3x: the head's and late stages' MACs are
    large too)."""
    if weighting not in PLANS:
        raise ValueError(f"calibration plan {weighting!r} is not one of {', '.join(PLANS)}")
    if weighting == "activation":
        yield from _activation_weighted_plan(space, seed=seed, whole_every=whole_every, limit=limit)
        return
    rng, seen, count = random.Random(seed), set(), 0
    while count < limit:
        arch = random_architecture(space, rng)
        for kernel in kernels_of(arch):
            if kernel.key() not in seen:
                seen.add(kernel.key())
                count += 1
                yield kernel.key(), kernel
                if count % whole_every == 0:
                    yield f"arch:{arch.to_string()}", arch


def _expanded_activation(kernel: Kernel) -> float:
    return float(kernel.in_px * kernel.in_px * kernel.in_channels * kernel.expansion)


def _activation_weighted_plan(space: Any, *, seed: int, whole_every: int, limit: int) -> Iterator[tuple[str, Any]]:
    rng = random.Random(seed)
    archs = [random_architecture(space, rng) for _ in range(_ACTIVATION_POOL_ARCHS)]
    pool = list({k.key(): k for arch in archs for k in kernels_of(arch)}.values())
    sizes = [_expanded_activation(k) for k in pool]
    total = sum(sizes) or 1.0
    weights = [0.5 / len(pool) + 0.5 * size / total for size in sizes]
    keys = [rng.random() ** (1.0 / w) for w in weights]  # the largest keys are the weighted sample
    ordered = [pool[i] for i in sorted(range(len(pool)), key=lambda i: -keys[i])]
    for count, kernel in enumerate(ordered[:limit], start=1):
        yield kernel.key(), kernel
        if count % whole_every == 0:
            arch = archs[(count // whole_every - 1) % len(archs)]
            yield f"arch:{arch.to_string()}", arch


def read_samples(out_dir: Path) -> list[Sample]:
    """The samples measured so far (a torn last line from a kill is ignored)."""
    path = Path(out_dir) / SAMPLES_FILE
    samples = []
    if path.is_file():
        for line in path.read_text().splitlines():
            try:
                samples.append(Sample.from_json(json.loads(line)))
            except (ValueError, KeyError, TypeError):
                logger.warning("ignoring an incomplete line of %s", path)
    return samples


def _append(out_dir: Path, sample: Sample) -> None:
    with open(Path(out_dir) / SAMPLES_FILE, "a") as handle:
        handle.write(json.dumps(sample.to_json()) + "\n")
        handle.flush()
        os.fsync(handle.fileno())


def _check_key(out_dir: Path, key: DeviceKey) -> None:
    path = Path(out_dir) / KEY_FILE
    if path.is_file():
        recorded = DeviceKey(**json.loads(path.read_text()))
        differences = recorded.differences(key)
        if differences:
            raise PredictorError(f"{out_dir} was calibrated on another device or setting: " + "; ".join(differences))
    else:
        path.write_text(json.dumps(key.__dict__))


def measure_one(item: Any, profiler: Any, params: dict[str, Any], *, seed: int = 0) -> tuple[dict[str, Any], Sample]:
    """Build, convert and measure one plan item; the profiler's result and the sample."""
    from nas.trial.predictor.kernel_models import arch_tflite, kernel_tflite
    from search_spaces import arch_cost

    if isinstance(item, Kernel):
        model, kernels, whole, params_count, name = kernel_tflite(item, seed=seed), (item,), False, 0, item.key()
    else:
        model, kernels, whole = arch_tflite(item, seed=seed), tuple(kernels_of(item)), True
        params_count, name = arch_cost(item).params, f"arch:{item.to_string()}"
    result = profiler.measure(model, **params)
    return result, Sample(name, kernels, float(result[_LATENCY][_P50]), len(model), whole, params_count)


def calibrate(space: Any, profiler: Any, params: dict[str, Any], out_dir: str | Path, *, budget_minutes: float,
              seed: int = 0, max_samples: int = 400, progress: bool = True,
              measure: Callable[..., tuple[dict[str, Any], Sample]] = measure_one,
              weighting: str = "uniform") -> Predictor:
    """Measure until the budget or ``max_samples``, then fit and write ``predictor.json`` in ``out_dir``."""
    from tqdm import tqdm

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    log = out / SAMPLES_FILE
    if log.is_file() and log.stat().st_size and not log.read_bytes().endswith(b"\n"):
        with open(log, "a") as handle:  # a kill mid-write: the torn line stays ignored, the next starts clean
            handle.write("\n")
    samples = read_samples(out)
    done = {s.name for s in samples}
    key = DeviceKey(**json.loads((out / KEY_FILE).read_text())) if (out / KEY_FILE).is_file() else None
    deadline = time.monotonic() + budget_minutes * 60.0
    bar = tqdm(total=max_samples, initial=len(samples), disable=not progress, unit="model", desc="calibrating")
    try:
        for name, item in plan(space, seed=seed, limit=max_samples, weighting=weighting):
            if len(samples) >= max_samples or time.monotonic() >= deadline:
                break
            if name in done:
                continue
            try:
                result, sample = measure(item, profiler, params, seed=seed)
            except Exception as exc:  # a model the runtime rejects is skipped; anything else stops (resumable)
                if getattr(exc, "kind", None) != "rejected":
                    raise
                logger.warning("calibration model %s rejected by the profiler, skipped: %s", name, exc)
                done.add(name)
                continue
            this_key = DeviceKey.from_result(result)
            _check_key(out, this_key)
            key = key or this_key
            _append(out, sample)
            samples.append(sample)
            done.add(name)
            bar.update(1)
    finally:
        bar.close()
    if key is None:
        raise PredictorError(f"nothing measured in {out}: no budget left or no profiler result")
    predictor = fit(samples, key)
    predictor.save(out / PREDICTOR_FILE)
    logger.info("calibrated on %d samples; predictor in %s", len(samples), out / PREDICTOR_FILE)
    return predictor

"""The timed loop, run inside the measurement subprocess (see :mod:`edge_profiler._worker`).

Follows LiteRT's benchmark tools: the model is loaded and its tensors allocated (``init_ms``), the
inputs are filled once with random values of the right dtype, ``warmup_runs`` untimed runs follow
(the first one is ``first_inference_ms``), then timed runs until both ``runs`` and ``min_seconds``
are reached (``benchmark_model --num_runs/--min_secs``), capped at ``max_seconds``. Peak memory is
``getrusage(RUSAGE_SELF).ru_maxrss`` of the subprocess, as ``benchmark_model`` reports it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import resource
import sys
import time
from typing import Any

import numpy as np

from edge_profiler.errors import ProfilerError
from edge_profiler.litert import LiteRT, delegate_node_count, load_runtime
from edge_profiler.params import MeasureParams
from edge_profiler.stats import latency_stats

_RANDOM_SEED = 20240521


def _maxrss_mb() -> float:
    # ru_maxrss is in kilobytes on Linux, bytes on macOS.
    scale = 1.0 if sys.platform == "darwin" else 1024.0
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale / 2**20


def _tensor_bytes(details: list[dict[str, Any]]) -> int:
    total = 0
    for detail in details:
        try:
            total += int(np.prod(np.asarray(detail["shape"], dtype=np.int64))) * np.dtype(detail["dtype"]).itemsize
        except (TypeError, ValueError, OverflowError):
            continue
    return total


def random_input(shape: Any, dtype: Any, rng: np.random.Generator) -> np.ndarray:
    """Random values like ``benchmark_litert_model.py``: floats in [-1, 1], ints in [-128, 127]."""
    dtype = np.dtype(dtype)
    shape = tuple(int(d) for d in shape)
    if np.issubdtype(dtype, np.floating):
        return rng.uniform(-1.0, 1.0, shape).astype(dtype)
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        return rng.integers(max(info.min, -128), min(info.max, 127) + 1, shape, dtype=dtype)
    if dtype == np.bool_:
        return rng.integers(0, 2, shape).astype(np.bool_)
    return np.zeros(shape, dtype=dtype)


def _load(runtime: LiteRT, model: bytes, params: MeasureParams, memory_limit_bytes: int | None) -> Any:
    """Construct the interpreter and allocate its tensors; every failure as a ``ProfilerError``."""
    if not params.use_xnnpack and not runtime.can_disable_xnnpack:
        raise ProfilerError("bad_request", f"{runtime.info.name} {runtime.info.version} cannot disable XNNPACK")
    try:
        interpreter = runtime.interpreter(model, num_threads=params.threads, use_xnnpack=params.use_xnnpack)
    except MemoryError as exc:
        raise ProfilerError("out_of_memory", f"loading the model ran out of memory: {exc}") from None
    except Exception as exc:  # the runtime raises ValueError/RuntimeError with its own message
        raise ProfilerError("rejected", f"{runtime.info.name} cannot load the model: {exc}",
                            detail={"stage": "load"}) from None
    try:
        tensor_bytes = _tensor_bytes(interpreter.get_tensor_details())
    except Exception:  # noqa: BLE001 - details are a diagnostic only
        tensor_bytes = 0
    try:
        interpreter.allocate_tensors()
    except MemoryError as exc:
        raise ProfilerError("out_of_memory", f"allocating tensors ran out of memory: {exc}") from None
    except Exception as exc:
        # Under RLIMIT_AS a failed allocation surfaces as a RuntimeError (often with an empty
        # message or a delegate "failed to prepare"); the tensor sizes the model declares tell the
        # cases apart: kernels need scratch buffers several times their inputs' size (im2col,
        # XNNPACK packing), so declared tensors above an eighth of the address-space budget
        # (hundreds of MB, where Pi-sized models declare a few MB) are taken as the cause.
        if memory_limit_bytes and tensor_bytes >= memory_limit_bytes // 8:
            raise ProfilerError(
                "out_of_memory",
                f"allocating tensors failed under the {memory_limit_bytes / 2**20:.0f} MB address-space "
                f"limit: the model declares {tensor_bytes / 2**20:.0f} MB of tensors, plus kernel scratch "
                f"buffers ({exc or 'allocation failed'})",
                detail={"stage": "allocate", "tensor_bytes": tensor_bytes}) from None
        raise ProfilerError("rejected", f"{runtime.info.name} cannot allocate the model's tensors: {exc}",
                            detail={"stage": "allocate"}) from None
    return interpreter


def _fill_inputs(interpreter: Any) -> list[dict[str, Any]]:
    """Random inputs of the right shape and dtype, set once; their description for the result."""
    rng = np.random.default_rng(_RANDOM_SEED)
    inputs = []
    try:
        for detail in interpreter.get_input_details():
            interpreter.set_tensor(detail["index"], random_input(detail["shape"], detail["dtype"], rng))
            inputs.append({"name": detail["name"], "shape": [int(d) for d in detail["shape"]],
                           "dtype": np.dtype(detail["dtype"]).name})
    except MemoryError as exc:
        raise ProfilerError("out_of_memory", f"creating the inputs ran out of memory: {exc}") from None
    except Exception as exc:
        raise ProfilerError("rejected", f"cannot fill the model's inputs: {exc}", detail={"stage": "inputs"}) from None
    return inputs


@dataclasses.dataclass(frozen=True)
class _Timings:
    warmup_ms: list[float]
    times_ms: list[float]
    timed_seconds: float


def _timed_runs(interpreter: Any, params: MeasureParams, max_seconds: float) -> _Timings:
    """Untimed warm-up runs, then timed runs until both ``runs`` and ``min_seconds`` are reached."""
    invoke = interpreter.invoke
    warmup_ms: list[float] = []
    times_ms: list[float] = []
    perf_counter = time.perf_counter
    try:
        for _ in range(params.warmup_runs):
            t0 = perf_counter()
            invoke()
            warmup_ms.append((perf_counter() - t0) * 1000.0)
        loop_start = perf_counter()
        while True:
            t0 = perf_counter()
            invoke()
            t1 = perf_counter()
            times_ms.append((t1 - t0) * 1000.0)
            elapsed = t1 - loop_start
            if len(times_ms) >= params.runs and elapsed >= params.min_seconds:
                break
            if elapsed >= max_seconds:
                break
    except MemoryError as exc:
        raise ProfilerError("out_of_memory", f"inference ran out of memory: {exc}") from None
    except Exception as exc:
        raise ProfilerError("rejected", f"inference failed: {exc}", detail={"stage": "invoke"}) from None
    return _Timings(warmup_ms, times_ms, perf_counter() - loop_start)


def measure_model(model: bytes, params: MeasureParams, *, runtime: str = "auto",
                  max_seconds: float = 120.0, memory_limit_bytes: int | None = None) -> dict[str, Any]:
    """Measure one model in this process; raise :class:`ProfilerError` for a bad model."""
    litert = load_runtime(runtime)
    baseline_rss_mb = _maxrss_mb()
    start = time.perf_counter()
    interpreter = _load(litert, model, params, memory_limit_bytes)
    init_ms = (time.perf_counter() - start) * 1000.0
    init_rss_mb = _maxrss_mb()
    delegate_nodes = delegate_node_count(interpreter)
    inputs = _fill_inputs(interpreter)
    timings = _timed_runs(interpreter, params, max_seconds)
    warmup_ms = timings.warmup_ms
    peak_mb = _maxrss_mb()
    return {
        "latency_ms": latency_stats(timings.times_ms),
        "init_ms": init_ms,
        "first_inference_ms": warmup_ms[0] if warmup_ms else timings.times_ms[0],
        "warmup_ms": {"count": len(warmup_ms), "mean": float(np.mean(warmup_ms)) if warmup_ms else None},
        "peak_memory_mb": peak_mb,
        "memory_delta_mb": {"init": init_rss_mb - baseline_rss_mb, "overall": peak_mb - baseline_rss_mb},
        "timed_seconds": timings.timed_seconds,
        "model_sha256": hashlib.sha256(model).hexdigest(),
        "model_size_bytes": len(model),
        "inputs": inputs,
        "runtime": litert.info.to_json(),
        "params": params.to_json(),
        "delegate_nodes": delegate_nodes,
        # XNNPACK is the only delegate the agent lets LiteRT apply (its default delegate), so a
        # delegate node means XNNPACK ran; None where the runtime cannot list its nodes.
        "xnnpack_applied": None if delegate_nodes is None else delegate_nodes > 0,
    }

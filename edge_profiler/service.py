"""The agent's measurement service: one worker thread, a bounded queue and a result cache.

Measurements never overlap (one worker thread drives the :class:`Measurer`); requests beyond
``queue_size`` waiting ones are refused with ``ProfilerError('busy')`` (HTTP 503 + Retry-After).
Results, and the errors that a model will always produce (``rejected``, ``crashed``,
``out_of_memory``), are cached by (model SHA-256, parameters, runtime name and version); a cached
answer has ``cached: true``. Identical requests already queued share one measurement.
"""

from __future__ import annotations

import collections
import concurrent.futures
import copy
import hashlib
import logging
import math
import queue
import threading
import time
from typing import Any

from edge_profiler.errors import ProfilerError
from edge_profiler.litert import describe_runtime
from edge_profiler.measurer import Measurer
from edge_profiler.params import MeasureParams

logger = logging.getLogger(__name__)

_CACHEABLE_ERRORS = frozenset({"rejected", "crashed", "out_of_memory"})
_STOP = object()


class MeasurementService:
    """Serialises measurements on the device; thread-safe ``submit``."""

    def __init__(self, measurer: Measurer, *, queue_size: int = 8, cache_size: int = 512) -> None:
        if queue_size < 1:
            raise ValueError(f"queue_size={queue_size} must be at least 1")
        self.measurer = measurer
        self.queue_size = queue_size
        self.cache_size = cache_size
        runtime = describe_runtime(measurer.limits.runtime)
        self.runtime = runtime
        self._queue: queue.Queue = queue.Queue(maxsize=queue_size)
        self._cache: collections.OrderedDict[tuple, tuple[str, Any]] = collections.OrderedDict()
        self._in_flight: dict[tuple, concurrent.futures.Future] = {}
        self._lock = threading.Lock()
        self._mean_duration_s = 1.0
        self._busy = False
        self.measurements_done = 0
        self._thread = threading.Thread(target=self._run, name="edge-profiler-measure", daemon=True)
        self._thread.start()

    def _key(self, sha256: str, params: MeasureParams) -> tuple:
        return (sha256, params.cache_key(), self.runtime.name, self.runtime.version)

    @property
    def pending(self) -> int:
        return self._queue.qsize()

    def status(self) -> dict[str, Any]:
        return {"pending": self.pending, "capacity": self.queue_size, "measuring": self._busy,
                "measurements_done": self.measurements_done, "cached_results": len(self._cache)}

    def retry_after_s(self) -> int:
        """A guess at when a queue slot frees up: the mean measurement time."""
        return max(1, math.ceil(self._mean_duration_s))

    def submit(self, model: bytes, params: MeasureParams, timeout_s: float | None = None) -> dict[str, Any]:
        """Measure (or answer from the cache); blocks until the result is ready."""
        submitted = time.monotonic()
        key = self._key(hashlib.sha256(model).hexdigest(), params)
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None:
                self._cache.move_to_end(key)
                kind, value = hit
                if kind == "error":
                    raise ProfilerError(value.kind, value.message, detail={**value.detail, "cached": True})
                result = copy.deepcopy(value)
                result.update(cached=True, queue_wait_ms=0.0)
                return result
            future = self._in_flight.get(key)
            shared = future is not None
            if future is None:
                future = concurrent.futures.Future()
                try:
                    self._queue.put_nowait((key, model, params, future, submitted))
                except queue.Full:
                    raise ProfilerError(
                        "busy", f"{self.queue_size} measurements are already waiting; retry later",
                        detail={"retry_after_s": self.retry_after_s()}) from None
                self._in_flight[key] = future
        result = future.result(timeout=timeout_s)
        return copy.deepcopy(result) if shared else result

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            key, model, params, future, submitted = item
            if not future.set_running_or_notify_cancel():
                continue
            self._busy = True
            started = time.monotonic()
            try:
                result = self.measurer.measure(model, params)
                result["queue_wait_ms"] = (started - submitted) * 1000.0
                entry: tuple[str, Any] = ("result", copy.deepcopy(result))
                future.set_result(result)
            except ProfilerError as exc:
                entry = ("error", exc)
                future.set_exception(exc)
            except Exception as exc:  # noqa: BLE001 - the worker thread must survive anything
                logger.exception("measurement failed unexpectedly")
                entry = ("error", ProfilerError("internal", f"unexpected {type(exc).__name__}: {exc}"))
                future.set_exception(entry[1])
            finally:
                self._busy = False
            duration = time.monotonic() - started
            self._mean_duration_s = 0.8 * self._mean_duration_s + 0.2 * duration
            with self._lock:
                self.measurements_done += 1
                self._in_flight.pop(key, None)
                if entry[0] == "result" or entry[1].kind in _CACHEABLE_ERRORS:
                    self._cache[key] = entry
                    while len(self._cache) > self.cache_size:
                        self._cache.popitem(last=False)

    def close(self, timeout_s: float | None = None) -> None:
        """Refuse what is still queued and stop the worker after the current measurement."""
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is not _STOP:
                item[3].set_exception(ProfilerError("unreachable", "the agent is shutting down"))
        self._queue.put(_STOP)
        self._thread.join(timeout_s)

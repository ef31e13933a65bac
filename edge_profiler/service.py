"""The agent's measurement service: one worker thread, a bounded queue and a result cache.

Measurements never overlap (one worker thread drives the :class:`Measurer`); requests beyond
``queue_size`` waiting ones are refused with ``ProfilerError('busy')`` (HTTP 503 + Retry-After).
Results, and the errors that a model will always produce (``rejected``, ``crashed``,
``out_of_memory``), are cached by (model SHA-256, parameters, runtime name and version); a cached
answer has ``cached: true``. Identical requests already queued share one measurement.

The cache never keeps exception objects: their tracebacks reference the frames that held the
uploaded bytes, so 24 rejected 48 MB uploads once kept ~1.1 GB alive. An error is cached as its
kind, message, detail and model hash only, and the cache is bounded by the bytes of its JSON
entries (``cache_max_bytes``), not by a count of entries.
"""

from __future__ import annotations

import collections
import concurrent.futures
import copy
import hashlib
import json
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


def _entry_bytes(entry: tuple[str, Any]) -> int:
    """Size charged to the cache for one entry: its JSON text plus a fixed overhead for the key."""
    return len(json.dumps(entry[1], default=str)) + 256


def _error_entry(exc: ProfilerError, sha256: str) -> tuple[str, Any]:
    """What is cached of an error: plain strings and numbers, never the exception (or its traceback)."""
    detail = json.loads(json.dumps(exc.detail, default=str))
    return ("error", {"kind": exc.kind, "message": exc.message, "detail": detail, "model_sha256": sha256})


class MeasurementService:
    """Serialises measurements on the device; thread-safe ``submit``."""

    def __init__(self, measurer: Measurer, *, queue_size: int = 8, cache_max_bytes: int = 8 * 2**20) -> None:
        if queue_size < 1:
            raise ValueError(f"queue_size={queue_size} must be at least 1")
        if cache_max_bytes < 0:
            raise ValueError(f"cache_max_bytes={cache_max_bytes} must not be negative")
        self.measurer = measurer
        self.queue_size = queue_size
        self.cache_max_bytes = cache_max_bytes
        self._cache_bytes = 0
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
                "measurements_done": self.measurements_done, "cached_results": len(self._cache),
                "cache_bytes": self._cache_bytes, "cache_max_bytes": self.cache_max_bytes}

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
                    raise ProfilerError(value["kind"], value["message"], detail={**value["detail"], "cached": True})
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
        try:
            result = future.result(timeout=timeout_s)
        finally:
            # The future holds the raised error, whose traceback holds this frame (and ``model``):
            # a reference cycle that only the cyclic GC would free, 16 MB uploads piling up until it
            # ran. Dropping the future here breaks it, so each upload is freed as the request ends.
            del future
        return copy.deepcopy(result) if shared else result

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            key, model, params, future, submitted = item
            del item
            if not future.set_running_or_notify_cancel():
                continue
            started = time.monotonic()
            entry = self._measure_one(model, params, future, key[0], submitted)
            del model, future  # the upload must not outlive its measurement
            duration = time.monotonic() - started
            self._mean_duration_s = 0.8 * self._mean_duration_s + 0.2 * duration
            with self._lock:
                self.measurements_done += 1
                self._in_flight.pop(key, None)
                if entry[0] == "result" or entry[1]["kind"] in _CACHEABLE_ERRORS:
                    self._remember(key, entry)

    def _measure_one(self, model: bytes, params: MeasureParams, future: concurrent.futures.Future,
                     sha256: str, submitted: float) -> tuple[str, Any]:
        """Measure, settle ``future`` and return the cache entry (result, or the error as plain data)."""
        self._busy = True
        started = time.monotonic()
        try:
            result = self.measurer.measure(model, params)
            result["queue_wait_ms"] = (started - submitted) * 1000.0
            entry: tuple[str, Any] = ("result", copy.deepcopy(result))
            future.set_result(result)
            return entry
        except ProfilerError as exc:
            entry = _error_entry(exc, sha256)
        except Exception as exc:  # noqa: BLE001 - the worker thread must survive anything
            logger.exception("measurement failed unexpectedly")
            entry = _error_entry(ProfilerError("internal", f"unexpected {type(exc).__name__}: {exc}"), sha256)
        finally:
            self._busy = False
        # A fresh exception without a traceback: the waiting request re-raises it, and nothing it
        # references keeps the measurement's frames (and the uploaded bytes) alive.
        value = entry[1]
        future.set_exception(ProfilerError(value["kind"], value["message"], detail=value["detail"]))
        return entry

    def _remember(self, key: tuple, entry: tuple[str, Any]) -> None:
        """Add to the LRU cache, evicting the oldest entries beyond ``cache_max_bytes`` (lock held)."""
        size = _entry_bytes(entry)
        if size > self.cache_max_bytes:
            return
        old = self._cache.pop(key, None)
        if old is not None:
            self._cache_bytes -= _entry_bytes(old)
        self._cache[key] = entry
        self._cache_bytes += size
        while self._cache_bytes > self.cache_max_bytes:
            _, evicted = self._cache.popitem(last=False)
            self._cache_bytes -= _entry_bytes(evicted)

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

"""Profilers used by the search: :class:`LocalProfiler` (this machine) and :class:`RemoteProfiler`
(one or more agents). Both return the result schema of ``docs/interfaces.md`` and raise
:class:`~edge_profiler.errors.ProfilerError`. Only the standard library is used for HTTP
(``urllib``), so the client is as light as the agent.
"""

from __future__ import annotations

import abc
import concurrent.futures
import dataclasses
import json
import logging
import random
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from edge_profiler.errors import ProfilerError
from edge_profiler.measurer import CooldownPolicy, Measurer
from edge_profiler.params import MeasureParams
from edge_profiler.sandbox import SandboxLimits

logger = logging.getLogger(__name__)

def read_model(model: bytes | bytearray | memoryview | str | Path) -> bytes:
    """The .tflite bytes of ``model`` (bytes, or a path to a file)."""
    if isinstance(model, (bytes, bytearray, memoryview)):
        return bytes(model)
    if isinstance(model, (str, Path)):
        path = Path(model)
        if not path.is_file():
            raise FileNotFoundError(f"model file {str(path)!r} does not exist")
        return path.read_bytes()
    raise TypeError(f"model must be bytes or a path, got {type(model).__name__}")


class Profiler(abc.ABC):
    """Measures the on-device latency of .tflite models."""

    @abc.abstractmethod
    def measure_params(self, model: bytes, params: MeasureParams) -> dict[str, Any]:
        """Measure ``model`` with ``params``; the result schema of ``docs/interfaces.md``."""

    def measure(self, model: bytes | bytearray | memoryview | str | Path, *, threads: int = 1,
                warmup_runs: int = MeasureParams.warmup_runs, runs: int = MeasureParams.runs,
                min_seconds: float = MeasureParams.min_seconds, use_xnnpack: bool = True) -> dict[str, Any]:
        """Measure one model; raises ``ProfilerError`` when it cannot be measured."""
        params = MeasureParams(threads=threads, warmup_runs=warmup_runs, runs=runs,
                               min_seconds=float(min_seconds), use_xnnpack=use_xnnpack)
        return self.measure_params(read_model(model), params)

    def measure_many(self, models: Iterable[bytes | str | Path], *, max_workers: int = 1,
                     **params: Any) -> list[dict[str, Any] | ProfilerError]:
        """Measure several models concurrently; a failed one yields its ``ProfilerError`` in place."""
        def one(model: bytes | str | Path) -> dict[str, Any] | ProfilerError:
            try:
                return self.measure(model, **params)
            except ProfilerError as exc:
                return exc

        with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, max_workers)) as pool:
            return list(pool.map(one, list(models)))


class LocalProfiler(Profiler):
    """Measure on this machine with the agent's own code (sandboxed subprocess, same schema);
    ``measured_by`` is ``"local"``. For users without a Pi, and for tests."""

    def __init__(self, *, memory_limit_mb: int = SandboxLimits.memory_limit_mb,
                 timeout_s: float = SandboxLimits.timeout_s, runtime: str = "auto",
                 cooldown: CooldownPolicy | None = None) -> None:
        self._measurer = Measurer(SandboxLimits(memory_limit_mb=memory_limit_mb, timeout_s=timeout_s,
                                                runtime=runtime), cooldown, measured_by="local")

    def measure_params(self, model: bytes, params: MeasureParams) -> dict[str, Any]:
        return self._measurer.measure(model, params)


@dataclasses.dataclass
class _Agent:
    url: str
    in_flight: int = 0
    unavailable_until: float = 0.0  # dead (connection failed) or busy (503) until this time
    failures: int = 0
    max_upload_bytes: int | None = None  # from /v1/health, fetched once


#: Called while a request waits for a busy or dead agent: (agent URL, error kind, seconds waited so
#: far, seconds left until the deadline). For progress bars; logging shows the same at INFO.
WaitCallback = Callable[[str, str, float, float], None]


class RemoteProfiler(Profiler):
    """Measure on one or more agents (``edge-profiler serve``), spreading work over them.

    A ``busy`` agent (503, queue full) is waited for until the request's deadline (``timeout_s``
    after the call): a search with more workers than Pis waits for its turn instead of failing
    trials. Each wait is at least the agent's Retry-After and grows exponentially with equal jitter
    (AWS Architecture Blog, "Exponential Backoff and Jitter"), up to ``max_backoff_s``. Connection
    errors and 500s are retried at most ``retries`` times with full-jitter backoff; a dead agent is
    skipped for ``dead_retry_s`` while others take the work. A wrong token raises
    ``ProfilerError('unauthorized')`` at once. Waits are logged at INFO and passed to ``on_wait``.
    ``measured_by`` in each result is the URL of the agent that measured it.
    """

    def __init__(self, urls: str | Sequence[str], token: str | None = None, *, timeout_s: float = 900.0,
                 retries: int = 8, backoff_s: float = 0.5, max_backoff_s: float = 30.0,
                 dead_retry_s: float = 30.0, on_wait: WaitCallback | None = None) -> None:
        urls = [urls] if isinstance(urls, str) else list(urls)
        if not urls:
            raise ValueError("RemoteProfiler needs at least one agent URL")
        for url in urls:
            if urllib.parse.urlsplit(url).scheme not in {"http", "https"}:
                raise ValueError(f"agent URL {url!r} must start with http:// or https://")
        if timeout_s <= 0 or backoff_s <= 0 or max_backoff_s < backoff_s:
            raise ValueError(f"need timeout_s > 0 and 0 < backoff_s <= max_backoff_s, got {timeout_s}, "
                             f"{backoff_s}, {max_backoff_s}")
        self._agents = [_Agent(url.rstrip("/")) for url in urls]
        self._token = token
        self.timeout_s = timeout_s
        self.retries = retries
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self.dead_retry_s = dead_retry_s
        self.on_wait = on_wait
        self._lock = threading.Lock()
        self._next = 0

    @property
    def urls(self) -> list[str]:
        return [agent.url for agent in self._agents]

    def measure_many(self, models: Iterable[bytes | str | Path], *, max_workers: int | None = None,
                     **params: Any) -> list[dict[str, Any] | ProfilerError]:
        """As :meth:`Profiler.measure_many`, by default one request in flight per agent."""
        return super().measure_many(models, max_workers=max_workers or len(self._agents), **params)

    def device(self, url: str | None = None) -> dict[str, Any]:
        """``GET /v1/device`` of one agent (the first by default)."""
        return self._request(url or self._agents[0].url, "GET", "/v1/device")

    def health(self, url: str | None = None) -> dict[str, Any]:
        return self._request(url or self._agents[0].url, "GET", "/v1/health")

    def measure_params(self, model: bytes, params: MeasureParams) -> dict[str, Any]:
        path = "/v1/measure?" + urllib.parse.urlencode(params.to_query())
        started = time.monotonic()
        deadline = started + self.timeout_s
        last_error: ProfilerError | None = None
        failures = busy = 0
        pause = 0.0
        while True:
            agent = self._pick()
            wait = min(agent.unavailable_until - time.monotonic(), pause, deadline - time.monotonic())
            if wait > 0 and last_error is not None:  # every agent is dead or busy
                self._report_wait(agent.url, last_error.kind, wait, started, deadline)
                time.sleep(wait)
            try:
                self._check_upload_size(agent, len(model))
                body = self._request(agent.url, "POST", path, model)
            except ProfilerError as exc:
                if exc.kind not in {"unreachable", "busy", "internal"}:
                    raise
                last_error = exc
                if exc.kind == "busy":
                    busy += 1
                    pause = self._busy_backoff(busy, exc)
                    self._mark_unavailable(agent, pause)
                else:
                    failures += 1
                    pause = random.uniform(0, min(self.max_backoff_s, self.backoff_s * 2 ** failures))
                    # A dead agent is skipped for dead_retry_s (others take the work meanwhile).
                    self._mark_unavailable(agent, self.dead_retry_s if exc.kind == "unreachable" else pause)
                    logger.warning("agent %s: %s (failure %d/%d)", agent.url, exc.message, failures,
                                   self.retries + 1)
                if failures > self.retries or time.monotonic() >= deadline:
                    break
                continue
            finally:
                with self._lock:
                    agent.in_flight -= 1
            with self._lock:
                agent.failures = 0
                agent.unavailable_until = 0.0
            body["measured_by"] = agent.url
            return body
        assert last_error is not None
        raise ProfilerError(last_error.kind, f"gave up after {failures + busy} attempts ({busy} busy) in "
                            f"{time.monotonic() - started:.0f} s over {len(self._agents)} agent(s); "
                            f"last error: {last_error.message}", detail={"urls": self.urls})

    def _busy_backoff(self, busy_count: int, error: ProfilerError) -> float:
        """How long to leave a busy agent alone: grows as 2**n, never below its Retry-After."""
        grown = min(self.max_backoff_s, self.backoff_s * 2 ** (busy_count - 1))
        return max(self._retry_after(error), grown / 2 + random.uniform(0, grown / 2))

    def _report_wait(self, url: str, kind: str, wait_s: float, started: float, deadline: float) -> None:
        now = time.monotonic()
        logger.info("agent %s is %s; waiting %.1f s for a turn (waited %.0f s so far, %.0f s left)", url,
                    "busy" if kind == "busy" else f"failing ({kind})", wait_s, now - started, deadline - now)
        if self.on_wait is not None:
            self.on_wait(url, kind, now - started, deadline - now)

    @staticmethod
    def _retry_after(error: ProfilerError | None) -> float:
        return float((error.detail.get("retry_after_s") if error else None) or 0.0)

    def _check_upload_size(self, agent: _Agent, size: int) -> None:
        """Refuse locally what the agent would refuse with 413 (learnt once from /v1/health)."""
        if agent.max_upload_bytes is None:
            agent.max_upload_bytes = int(self._request(agent.url, "GET", "/v1/health").get("max_upload_bytes") or 0)
        if agent.max_upload_bytes and size > agent.max_upload_bytes:
            raise ProfilerError("too_large", f"model of {size} bytes is over the upload limit of agent {agent.url} "
                                f"({agent.max_upload_bytes} bytes; see its --max-upload-mb)",
                                detail={"url": agent.url, "limit_bytes": agent.max_upload_bytes})

    def _pick(self) -> _Agent:
        """The available agent with the fewest requests in flight (round-robin among equals);
        if none is available, the one that becomes available first."""
        with self._lock:
            now = time.monotonic()
            count = len(self._agents)
            order = [self._agents[(self._next + i) % count] for i in range(count)]
            self._next = (self._next + 1) % count
            available = [a for a in order if a.unavailable_until <= now]
            agent = (min(available, key=lambda a: a.in_flight) if available
                     else min(order, key=lambda a: a.unavailable_until))
            agent.in_flight += 1
            return agent

    def _mark_unavailable(self, agent: _Agent, seconds: float) -> None:
        with self._lock:
            agent.failures += 1
            agent.unavailable_until = time.monotonic() + seconds

    def _request(self, base_url: str, method: str, path: str, data: bytes | None = None) -> dict[str, Any]:
        headers = {"Accept": "application/json"}
        if data is not None:
            headers["Content-Type"] = "application/octet-stream"
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        request = urllib.request.Request(base_url + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                status, body, response_headers = response.status, response.read(), response.headers
        except urllib.error.HTTPError as exc:
            status, body, response_headers = exc.code, exc.read(), exc.headers
        except (urllib.error.URLError, OSError) as exc:  # refused, reset, timed out, DNS
            reason = getattr(exc, "reason", exc)
            raise ProfilerError("unreachable", f"cannot reach {base_url}: {reason}", detail={"url": base_url}) from None
        try:
            payload = json.loads(body.decode("utf-8")) if body else {}
        except (UnicodeDecodeError, json.JSONDecodeError):
            payload = {"error": {"kind": "internal", "message": f"non-JSON answer with HTTP {status}"}}
        if status == 200:
            return payload
        if status in (401, 403):
            raise ProfilerError(
                "unauthorized",
                f"agent {base_url} refused the request (HTTP {status}): "
                + ("no token was sent; pass token=... (the agent requires one)" if not self._token
                   else "the token is wrong"),
                detail={"url": base_url, "status": status})
        if status == 503:
            retry_after = response_headers.get("Retry-After", "1") if response_headers else "1"
            try:
                retry_after_s = float(retry_after)
            except ValueError:
                retry_after_s = 1.0
            raise ProfilerError("busy", f"agent {base_url} is busy (HTTP 503)",
                                detail={"url": base_url, "retry_after_s": retry_after_s})
        error = ProfilerError.from_json(payload) if isinstance(payload, dict) else ProfilerError(
            "internal", f"HTTP {status}")
        error.detail.setdefault("url", base_url)
        error.detail.setdefault("status", status)
        if status >= 500 and error.kind not in {"busy"}:
            raise ProfilerError("internal", f"agent {base_url} failed (HTTP {status}): {error.message}",
                                detail=error.detail)
        raise error

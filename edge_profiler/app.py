"""The agent's HTTP API as a plain WSGI application (PEP 3333); tests call it directly.

Routes (all JSON):

- ``GET  /v1/health``  — liveness, version, queue state (no token needed);
- ``GET  /v1/device``  — the device description;
- ``POST /v1/measure?threads=1&warmup_runs=5&runs=50&min_seconds=1&use_xnnpack=true`` — body: the
  .tflite bytes (``application/octet-stream``); answer: the result schema of ``docs/interfaces.md``.

Errors are ``{"error": {"kind", "message", ...}}`` with 400 (bad parameters or no
Content-Length), 401 (token), 404/405 (+ ``Allow``), 408 (the client stalled mid-body), 413
(upload limit), 422 (the model cannot be measured: ``rejected``, ``crashed``, ``timeout``,
``out_of_memory``), 500, and 503 (+ ``Retry-After``, queue full). With a token set, every request
but ``GET /v1/health`` is authorised first, so unknown paths and methods answer 401 to a client
without the token and the routes are named only to one with it. Uploads never become file paths
chosen by the client.
"""

from __future__ import annotations

import hmac
import importlib.metadata
import json
import logging
import time
import urllib.parse
from collections.abc import Callable, Iterable
from typing import Any

from edge_profiler.device import describe_device
from edge_profiler.errors import ProfilerError
from edge_profiler.params import MeasureParams
from edge_profiler.service import MeasurementService


def package_version() -> str:
    """The installed version of this project (``edge-nas``)."""
    try:
        return importlib.metadata.version("edge-nas")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


logger = logging.getLogger("edge_profiler.access")

_STATUS = {200: "200 OK", 400: "400 Bad Request", 401: "401 Unauthorized", 404: "404 Not Found",
           405: "405 Method Not Allowed", 408: "408 Request Timeout", 413: "413 Content Too Large",
           422: "422 Unprocessable Content", 500: "500 Internal Server Error",
           503: "503 Service Unavailable"}
_KIND_STATUS = {"bad_request": 400, "unauthorized": 401, "not_found": 404, "too_large": 413,
                "rejected": 422, "crashed": 422, "timeout": 422, "out_of_memory": 422,
                "busy": 503, "unreachable": 503, "request_timeout": 408, "internal": 500}
# Bodies this much over the limit are still read and discarded so the client sees the 413
# instead of a reset connection; larger ones are not read at all.
_DRAIN_FACTOR = 4
StartResponse = Callable[..., Any]


class AgentApp:
    """WSGI callable of the agent. ``token=None`` disables authentication (loopback only)."""

    def __init__(self, service: MeasurementService, *, token: str | None = None,
                 max_upload_bytes: int = 64 * 2**20, agent_id: str = "agent") -> None:
        self.service = service
        self._token = token.encode("utf-8") if token else None
        self.max_upload_bytes = max_upload_bytes
        self.agent_id = agent_id
        self._routes: dict[str, dict[str, Callable[[dict], tuple[int, dict, list]]]] = {
            "/v1/health": {"GET": self._health},
            "/v1/device": {"GET": self._device},
            "/v1/measure": {"POST": self._measure},
        }

    def __call__(self, environ: dict, start_response: StartResponse) -> Iterable[bytes]:
        started = time.perf_counter()
        method = environ.get("REQUEST_METHOD", "GET").upper()
        path = environ.get("PATH_INFO", "") or "/"
        try:
            status, body, headers = self._dispatch(method, path, environ)
        except ProfilerError as exc:
            status, body, headers = _KIND_STATUS.get(exc.kind, 500), exc.to_json(), []
            if exc.kind == "busy":
                headers = [("Retry-After", str(int(exc.detail.get("retry_after_s", 1))))]
            elif exc.kind == "unauthorized":
                headers = [("WWW-Authenticate", 'Bearer realm="edge-profiler"')]
        except Exception as exc:  # noqa: BLE001 - one bad request must not take the agent down
            logger.exception("unhandled error for %s %s", method, path)
            status, body, headers = 500, ProfilerError("internal", f"{type(exc).__name__}: {exc}").to_json(), []
        if status != 200:
            self._drain(environ)
        payload = json.dumps(body, allow_nan=False).encode("utf-8")
        start_response(_STATUS[status], [("Content-Type", "application/json"),
                                         ("Content-Length", str(len(payload))), *headers])
        logger.info("%s %s %s %d %dB %.1fms", environ.get("REMOTE_ADDR", "-"), method, path, status,
                    len(payload), (time.perf_counter() - started) * 1000.0)
        return [payload]

    def _dispatch(self, method: str, path: str, environ: dict) -> tuple[int, dict, list]:
        if (path, method) != ("/v1/health", "GET"):
            self._authorize(environ)  # before anything that would tell an outsider about the routes
        handlers = self._routes.get(path)
        if handlers is None:
            raise ProfilerError("not_found", f"no route {path}; routes are {sorted(self._routes)}")
        handler = handlers.get(method)
        if handler is None:
            allowed = ", ".join(sorted(handlers))
            return 405, ProfilerError("bad_request", f"{method} is not allowed on {path}; use {allowed}").to_json(), [
                ("Allow", allowed)]
        return handler(environ)

    def _authorize(self, environ: dict) -> None:
        if self._token is None:
            return
        header = environ.get("HTTP_AUTHORIZATION", "")
        scheme, _, credentials = header.partition(" ")
        if scheme.lower() != "bearer" or not credentials:
            raise ProfilerError("unauthorized", "missing bearer token (Authorization: Bearer ...)")
        if not hmac.compare_digest(credentials.strip().encode("utf-8"), self._token):
            raise ProfilerError("unauthorized", "wrong token")

    def _health(self, environ: dict) -> tuple[int, dict, list]:
        return 200, {"status": "ok", "version": package_version(), "agent": self.agent_id,
                     "runtime": self.service.runtime.to_json(), "queue": self.service.status(),
                     "max_upload_bytes": self.max_upload_bytes}, []

    def _device(self, environ: dict) -> tuple[int, dict, list]:
        return 200, describe_device(runtime=self.service.measurer.limits.runtime), []

    def _measure(self, environ: dict) -> tuple[int, dict, list]:
        params = _params_from_query(environ.get("QUERY_STRING", ""))
        model = self._read_body(environ)
        result = self.service.submit(model, params)
        result["measured_by"] = self.agent_id
        return 200, result, []

    def _read_body(self, environ: dict) -> bytes:
        text = environ.get("CONTENT_LENGTH") or ""
        try:
            length = int(text)
        except ValueError:
            raise ProfilerError("bad_request", "a Content-Length header is required") from None
        if length < 0:
            raise ProfilerError("bad_request", f"invalid Content-Length {length}")
        if length > self.max_upload_bytes:
            raise ProfilerError("too_large", f"upload of {length} bytes is over the limit of "
                                f"{self.max_upload_bytes} bytes", detail={"limit_bytes": self.max_upload_bytes})
        if length == 0:
            raise ProfilerError("bad_request", "empty body: send the .tflite bytes")
        environ["edge_profiler.body_read"] = True
        try:
            body = environ["wsgi.input"].read(length)
        except TimeoutError:
            raise ProfilerError("request_timeout", f"the client declared {length} bytes and then stopped sending; "
                                "the agent stopped waiting (see --read-timeout-s)") from None
        if len(body) != length:
            raise ProfilerError("bad_request", f"body ended after {len(body)} of {length} bytes")
        return body


    def _drain(self, environ: dict) -> None:
        """Read and discard an unread request body before an error answer, so the client (which
        sends the whole body before reading) sees the answer instead of a reset connection."""
        if environ.get("edge_profiler.body_read"):
            return
        environ["edge_profiler.body_read"] = True
        try:
            remaining = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return
        if remaining > _DRAIN_FACTOR * self.max_upload_bytes:
            return  # not worth reading; the client checks /v1/health's max_upload_bytes first
        stream = environ["wsgi.input"]
        try:
            while remaining > 0:
                chunk = stream.read(min(remaining, 1 << 20))
                if not chunk:
                    break
                remaining -= len(chunk)
        except OSError:  # the client stalled or went away; the answer is still attempted
            return


def _params_from_query(query_string: str) -> MeasureParams:
    try:
        pairs = urllib.parse.parse_qsl(query_string, keep_blank_values=True, strict_parsing=bool(query_string))
    except ValueError:
        raise ProfilerError("bad_request", f"malformed query string {query_string!r}") from None
    query: dict[str, str] = {}
    for key, value in pairs:
        if key in query:
            raise ProfilerError("bad_request", f"parameter {key!r} given twice")
        query[key] = value
    return MeasureParams.from_query(query)

"""The WSGI app called directly with environ dicts (no socket), as prometheus client_python tests do."""

from __future__ import annotations

import io
import json
import threading
import time
from typing import Any

import pytest

from edge_profiler.app import AgentApp
from edge_profiler.errors import ProfilerError
from edge_profiler.measurer import Measurer
from edge_profiler.params import MeasureParams
from edge_profiler.sandbox import SandboxLimits
from edge_profiler.service import MeasurementService
from tests.edge_profiler.conftest import FAST

TOKEN = "s3cret-token-0123456789"


def call(app: AgentApp, method: str, path: str, body: bytes = b"", query: str = "",
         headers: dict[str, str] | None = None, content_length: str | None = None) -> tuple[int, dict, Any]:
    environ = {
        "REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": query, "REMOTE_ADDR": "127.0.0.1",
        "CONTENT_LENGTH": str(len(body)) if content_length is None else content_length,
        "wsgi.input": io.BytesIO(body),
    }
    for name, value in (headers or {}).items():
        environ["HTTP_" + name.upper().replace("-", "_")] = value
    captured: dict[str, Any] = {}

    def start_response(status: str, response_headers: list[tuple[str, str]]) -> None:
        captured["status"] = int(status.split()[0])
        captured["headers"] = dict(response_headers)

    payload = b"".join(app(environ, start_response))
    assert captured["headers"]["Content-Type"] == "application/json"
    return captured["status"], captured["headers"], json.loads(payload)


def _query(**params: Any) -> str:
    return "&".join(f"{k}={v}" for k, v in MeasureParams(**{**FAST, **params}).to_query().items())


@pytest.fixture()
def app() -> AgentApp:
    service = MeasurementService(Measurer(SandboxLimits(memory_limit_mb=1024, timeout_s=20)), queue_size=2)
    yield AgentApp(service, max_upload_bytes=64 * 1024)
    service.close()


def test_health_and_device(app: AgentApp) -> None:
    status, _, body = call(app, "GET", "/v1/health")
    assert status == 200 and body["status"] == "ok" and body["queue"]["capacity"] == 2
    status, _, body = call(app, "GET", "/v1/device")
    assert status == 200 and body["runtime"]["name"] == "ai_edge_litert"


def test_only_documented_routes(app: AgentApp) -> None:
    assert call(app, "GET", "/")[0] == 404
    assert call(app, "GET", "/v2/measure")[0] == 404
    assert call(app, "GET", "/v1/measure/../../etc/passwd")[0] == 404
    status, headers, body = call(app, "GET", "/v1/measure")
    assert status == 405 and headers["Allow"] == "POST"
    status, headers, _ = call(app, "DELETE", "/v1/health")
    assert status == 405 and headers["Allow"] == "GET"


def test_measure_then_cached(app: AgentApp, tiny_model: bytes) -> None:
    status, _, first = call(app, "POST", "/v1/measure", tiny_model, _query())
    assert status == 200, first
    assert first["cached"] is False and first["latency_ms"]["count"] == 5
    assert first["measured_by"] == "agent"
    status, _, second = call(app, "POST", "/v1/measure", tiny_model, _query())
    assert status == 200 and second["cached"] is True
    assert second["latency_ms"] == first["latency_ms"]
    status, _, third = call(app, "POST", "/v1/measure", tiny_model, _query(threads=2))
    assert status == 200 and third["cached"] is False  # other parameters, new measurement


def test_model_errors_are_422_and_cached(app: AgentApp, huge_model: bytes) -> None:
    status, _, body = call(app, "POST", "/v1/measure", b"\x00" * 100, _query())
    assert status == 422 and body["error"]["kind"] == "rejected"
    status, _, body = call(app, "POST", "/v1/measure", huge_model, _query())
    assert status == 422 and body["error"]["kind"] == "out_of_memory"
    started = time.monotonic()
    status, _, body = call(app, "POST", "/v1/measure", huge_model, _query())
    assert status == 422 and body["error"]["kind"] == "out_of_memory" and body["error"]["cached"] is True
    assert time.monotonic() - started < 0.5


def test_bad_requests(app: AgentApp, tiny_model: bytes) -> None:
    status, _, body = call(app, "POST", "/v1/measure", tiny_model, "threads=0")
    assert status == 400 and "threads" in body["error"]["message"]
    assert call(app, "POST", "/v1/measure", tiny_model, "path=/etc/passwd")[0] == 400
    assert call(app, "POST", "/v1/measure", tiny_model, "threads=1&threads=2")[0] == 400
    assert call(app, "POST", "/v1/measure", b"", _query())[0] == 400
    assert call(app, "POST", "/v1/measure", tiny_model, _query(), content_length="")[0] == 400


def test_upload_over_the_limit_is_413(app: AgentApp) -> None:
    status, _, body = call(app, "POST", "/v1/measure", b"\x00" * (64 * 1024 + 1), _query())
    assert status == 413 and body["error"]["kind"] == "too_large"
    # a huge declared length is refused before reading anything
    assert call(app, "POST", "/v1/measure", b"", _query(), content_length=str(10**12))[0] == 413


def test_token_is_required_when_set(tiny_model: bytes) -> None:
    service = MeasurementService(Measurer(SandboxLimits(memory_limit_mb=1024)))
    app = AgentApp(service, token=TOKEN)
    try:
        status, headers, body = call(app, "GET", "/v1/device")
        assert status == 401 and headers["WWW-Authenticate"].startswith("Bearer")
        assert call(app, "GET", "/v1/device", headers={"Authorization": "Bearer wrong"})[0] == 401
        assert call(app, "GET", "/v1/device", headers={"Authorization": f"Basic {TOKEN}"})[0] == 401
        assert call(app, "POST", "/v1/measure", tiny_model, _query(), headers={"Authorization": "Bearer x"})[0] == 401
        assert call(app, "GET", "/v1/device", headers={"Authorization": f"Bearer {TOKEN}"})[0] == 200
        assert call(app, "GET", "/v1/health")[0] == 200  # liveness needs no token
    finally:
        service.close()


class _BlockingMeasurer:
    """Holds each measurement until released, to fill the queue deterministically."""

    limits = SandboxLimits()

    def __init__(self) -> None:
        self.release = threading.Event()
        self.started = threading.Semaphore(0)

    def measure(self, model: bytes, params: MeasureParams) -> dict:
        self.started.release()
        self.release.wait(10)
        return {"model_sha256": "x", "params": params.to_json()}


def test_full_queue_answers_503_with_retry_after(tiny_model: bytes) -> None:
    measurer = _BlockingMeasurer()
    service = MeasurementService(measurer, queue_size=1)  # type: ignore[arg-type]
    app = AgentApp(service)
    answers: list[int] = []
    threads = [threading.Thread(target=lambda i=i: answers.append(
        call(app, "POST", "/v1/measure", tiny_model, _query(runs=10 + i))[0])) for i in range(2)]
    try:
        threads[0].start()
        assert measurer.started.acquire(timeout=5)  # first one is measuring
        threads[1].start()  # second one waits in the queue
        deadline = time.monotonic() + 5
        while service.pending < 1 and time.monotonic() < deadline:
            time.sleep(0.01)
        status, headers, body = call(app, "POST", "/v1/measure", tiny_model, _query(runs=99))
        assert status == 503 and body["error"]["kind"] == "busy"
        assert int(headers["Retry-After"]) >= 1
    finally:
        measurer.release.set()
        for thread in threads:
            thread.join(10)
        service.close()
    assert answers == [200, 200]


def test_unexpected_exception_is_500_and_app_survives(tiny_model: bytes) -> None:
    class Broken(_BlockingMeasurer):
        def measure(self, model: bytes, params: MeasureParams) -> dict:
            raise KeyError("bug")

    service = MeasurementService(Broken())  # type: ignore[arg-type]
    app = AgentApp(service)
    try:
        status, _, body = call(app, "POST", "/v1/measure", tiny_model, _query())
        assert status == 500 and body["error"]["kind"] == "internal"
        assert call(app, "GET", "/v1/health")[0] == 200
    finally:
        service.close()


def test_service_refuses_queued_work_on_close() -> None:
    measurer = _BlockingMeasurer()
    service = MeasurementService(measurer, queue_size=4)  # type: ignore[arg-type]
    errors: list[str] = []

    def submit(i: int) -> None:
        try:
            service.submit(b"m%d" % i, MeasureParams(**FAST))
        except ProfilerError as exc:
            errors.append(exc.kind)

    threads = [threading.Thread(target=submit, args=(i,)) for i in range(3)]
    threads[0].start()
    assert measurer.started.acquire(timeout=5)
    for thread in threads[1:]:
        thread.start()
    deadline = time.monotonic() + 5
    while service.pending < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    closer = threading.Thread(target=service.close)
    closer.start()
    time.sleep(0.1)
    measurer.release.set()
    closer.join(10)
    for thread in threads:
        thread.join(10)
    assert errors == ["unreachable", "unreachable"]

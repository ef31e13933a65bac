"""Issue 12: bounded memory, children that die with the agent, 408 / 431 / 401 in the JSON shape,
and a client that waits its turn at a busy agent."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from edge_profiler.app import AgentApp
from edge_profiler.client import RemoteProfiler
from edge_profiler.errors import ProfilerError
from edge_profiler.params import MeasureParams
from edge_profiler.sandbox import WORKDIR_PREFIX, SandboxLimits, remove_stale_workdirs
from edge_profiler.server import AgentServer, Config
from edge_profiler.service import MeasurementService
from tests.edge_profiler.conftest import FAST, start_agent
from tests.edge_profiler.test_app import TOKEN, _query, call

REPO = Path(__file__).resolve().parents[2]


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0
    raise AssertionError(f"no VmRSS for {pid}")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _agent_process(port: int, log: Path, *extra: str, tmpdir: Path | None = None) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p)}
    env.pop("EDGE_PROFILER_TOKEN", None)
    if tmpdir is not None:  # a private temp folder: no other test's agent sweeps its stale work folders
        env["TMPDIR"] = str(tmpdir)
    process = subprocess.Popen(
        [sys.executable, "-m", "edge_profiler.cli", "serve", "--port", str(port), "--memory-limit-mb", "1024",
         "--timeout-s", "20", *extra], stdout=log.open("ab"), stderr=subprocess.STDOUT, env=env, cwd=REPO)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert process.poll() is None, log.read_text()
        try:
            RemoteProfiler([f"http://127.0.0.1:{port}"], timeout_s=1).health()
            return process
        except ProfilerError:
            time.sleep(0.1)
    process.kill()
    raise AssertionError("agent did not start: " + log.read_text())


def _post(url: str, data: bytes, timeout_s: float = 60) -> tuple[int, dict]:
    request = urllib.request.Request(url + "/v1/measure?" + _query(), data=data, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


# --- memory -----------------------------------------------------------------------------------


def test_many_rejected_large_uploads_keep_the_agent_rss_bounded(tmp_path: Path) -> None:
    """Before the fix the cached exceptions kept every upload alive: 20 x 16 MB added ~320 MB."""
    port = _free_port()
    process = _agent_process(port, tmp_path / "agent.log", "--max-upload-mb", "17")
    url = f"http://127.0.0.1:{port}"
    try:
        assert _post(url, b"\0\0\0\0TFL3" + b"\0" * 64)[0] == 422  # warm up the code paths
        start_mb = _rss_mb(process.pid)
        for i in range(20):  # distinct bytes each time, so nothing is answered from the cache
            status, body = _post(url, b"\0\0\0\0TFL3" + bytes([i]) * (16 * 2**20))
            assert status == 422 and body["error"]["kind"] == "rejected", body
        grown_mb = _rss_mb(process.pid) - start_mb
        queue = RemoteProfiler([url]).health()["queue"]
    finally:
        process.terminate()
        process.wait(30)
    assert grown_mb < 80, f"RSS grew by {grown_mb:.0f} MB after 20 rejected 16 MB uploads"
    assert queue["cached_results"] == 21 and queue["cache_bytes"] <= queue["cache_max_bytes"]


class _Rejecting:
    """Rejects every model with a long message, and counts calls."""

    limits = SandboxLimits()

    def __init__(self) -> None:
        self.calls = 0

    def measure(self, model: bytes, params: MeasureParams) -> dict:
        self.calls += 1
        raise ProfilerError("rejected", "x" * 1000, detail={"size": len(model)})


def test_the_cache_holds_plain_data_bounded_by_bytes() -> None:
    measurer = _Rejecting()
    service = MeasurementService(measurer, cache_max_bytes=10_000)  # type: ignore[arg-type]
    try:
        for i in range(30):
            with pytest.raises(ProfilerError, match="rejected"):
                service.submit(b"model %d" % i + b"\0" * 100_000, MeasureParams(**FAST))
        status = service.status()
        assert status["cache_bytes"] <= 10_000 and 0 < status["cached_results"] < 30
        for kind, value in service._cache.values():
            assert kind == "error" and set(value) == {"kind", "message", "detail", "model_sha256"}
            assert all(isinstance(v, (str, int, dict)) for v in value.values())
        with pytest.raises(ProfilerError) as info:  # the newest is answered from the cache
            service.submit(b"model 29" + b"\0" * 100_000, MeasureParams(**FAST))
        assert info.value.detail["cached"] is True and info.value.__traceback__ is not None
        assert measurer.calls == 30
    finally:
        service.close()


# --- children die with the agent, stale folders go ------------------------------------------


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            found.append(int(stat.parent.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_the_measurement_dies_with_a_killed_agent_and_the_next_agent_cleans_up(tmp_path: Path,
                                                                                tiny_model: bytes) -> None:
    port = _free_port()
    private_tmp = tmp_path / "tmp"  # agents of parallel tests sweep the shared temp folder too
    private_tmp.mkdir()
    agent = _agent_process(port, tmp_path / "agent.log", tmpdir=private_tmp)
    url = f"http://127.0.0.1:{port}"
    query = "warmup_runs=0&runs=1000000&min_seconds=600"  # runs until the 20 s limit's 14 s
    request = urllib.request.Request(f"{url}/v1/measure?{query}", data=tiny_model, method="POST")
    threading.Thread(target=lambda: _swallow(request), daemon=True).start()
    deadline = time.monotonic() + 20
    while not (workers := _children(agent.pid)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert workers, "no measurement process started"
    folders = list(private_tmp.glob(f"{WORKDIR_PREFIX}{agent.pid}-*"))
    assert folders
    agent.kill()
    agent.wait(10)
    deadline = time.monotonic() + 5
    while any(_alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(_alive(pid) for pid in workers), "the measurement outlived the agent"
    assert all(folder.exists() for folder in folders)  # SIGKILL left them behind
    second = _agent_process(port, tmp_path / "agent.log", tmpdir=private_tmp)
    try:
        assert not any(folder.exists() for folder in folders)
        assert "removed the work folder" in (tmp_path / "agent.log").read_text()
    finally:
        second.terminate()
        second.wait(30)


def _swallow(request: urllib.request.Request) -> None:
    try:
        urllib.request.urlopen(request, timeout=60).read()
    except OSError:
        pass


def test_remove_stale_workdirs_keeps_folders_of_live_processes(tmp_path: Path) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = tmp_path / f"{WORKDIR_PREFIX}{dead.pid}-abc"
    mine = tmp_path / f"{WORKDIR_PREFIX}{os.getpid()}-abc"
    live = tmp_path / f"{WORKDIR_PREFIX}1-abc"
    other = tmp_path / "edge-profiler-something"
    for folder in (stale, mine, live, other):
        folder.mkdir()
        (folder / "model.tflite").write_bytes(b"x")
    assert remove_stale_workdirs(tmp_path) == [stale]
    assert not stale.exists() and mine.exists() and live.exists() and other.exists()


# --- the HTTP edges: 408, 431, 414, 401 first ------------------------------------------------


def _raw(port: int, data: bytes, read_timeout_s: float = 10) -> tuple[int, dict[str, str], dict]:
    with socket.create_connection(("127.0.0.1", port), timeout=read_timeout_s) as sock:
        sock.sendall(data)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), headers, json.loads(body)


@pytest.fixture()
def quick_agent() -> AgentServer:
    server = start_agent(read_timeout_s=0.5)
    yield server
    server.shutdown()


def test_a_client_stalling_in_its_body_gets_408(quick_agent: AgentServer) -> None:
    started = time.monotonic()
    status, headers, body = _raw(quick_agent.port, b"POST /v1/measure HTTP/1.1\r\nHost: x\r\n"
                                 b"Content-Length: 1000\r\n\r\n" + b"\0" * 10)
    assert status == 408 and headers["Content-Type"] == "application/json"
    assert body["error"]["kind"] == "request_timeout" and "stopped sending" in body["error"]["message"]
    assert time.monotonic() - started < 5
    status, _, body = _raw(quick_agent.port, b"GET /v1/health HTTP/1.1\r\nHost: x\r\n")  # stalls in headers
    assert status == 408 and body["error"]["kind"] == "request_timeout"
    assert RemoteProfiler([quick_agent.url]).health()["status"] == "ok"


def test_config_validates_the_read_timeout() -> None:
    with pytest.raises(ValueError, match="read_timeout_s"):
        Config(read_timeout_s=0)


def test_oversized_headers_and_request_lines_get_the_json_shape(quick_agent: AgentServer) -> None:
    big_header = b"GET /v1/health HTTP/1.1\r\nX-Big: " + b"a" * 70_000 + b"\r\n\r\n"
    many_headers = b"GET /v1/health HTTP/1.1\r\n" + b"".join(b"X-%d: 1\r\n" % i for i in range(150)) + b"\r\n"
    long_line = b"GET /" + b"a" * 70_000 + b" HTTP/1.1\r\n\r\n"
    garbage = b"\x16\x03\x01 nonsense\r\n\r\n"
    bad_version = b"GET /v1/health HTTP/9x\r\n\r\n"
    for request, expected in ((big_header, 431), (many_headers, 431), (long_line, 414), (garbage, 400),
                              (bad_version, 400)):
        status, headers, body = _raw(quick_agent.port, request)
        assert status == expected and headers["Content-Type"] == "application/json", (status, headers)
        assert body["error"]["kind"] in {"too_large", "bad_request"} and body["error"]["message"]


def test_protected_routes_answer_401_before_anything_else(tiny_model: bytes) -> None:
    service = MeasurementService(_Rejecting())  # type: ignore[arg-type]
    app = AgentApp(service, token=TOKEN)
    try:
        for method, path in (("GET", "/nope"), ("DELETE", "/v1/measure"), ("POST", "/v1/health"),
                             ("GET", "/"), ("PUT", "/v1/device")):
            status, headers, body = call(app, method, path, tiny_model)
            assert status == 401 and "WWW-Authenticate" in headers, (method, path, status)
            assert "/v1/" not in json.dumps(body), "routes named to a client without the token"
        auth = {"Authorization": f"Bearer {TOKEN}"}
        status, _, body = call(app, "GET", "/nope", headers=auth)
        assert status == 404 and "/v1/measure" in body["error"]["message"]
        status, headers, _ = call(app, "DELETE", "/v1/measure", headers=auth)
        assert status == 405 and headers["Allow"] == "POST"
        assert call(app, "GET", "/v1/health")[0] == 200
    finally:
        service.close()


# --- the client waits its turn -----------------------------------------------------------------


class _Slow:
    """Takes 0.1 s per measurement and records when each ran."""

    limits = SandboxLimits()

    def __init__(self, seconds: float = 0.1) -> None:
        self.seconds = seconds
        self.intervals: list[tuple[float, float]] = []

    def measure(self, model: bytes, params: MeasureParams) -> dict:
        started = time.monotonic()
        time.sleep(self.seconds)
        self.intervals.append((started, time.monotonic()))
        return {"model_sha256": "x", "params": params.to_json(), "latency_ms": {"count": params.runs}}


def _one_slot_agent(measurer: _Slow) -> AgentServer:
    service = MeasurementService(measurer, queue_size=1)  # type: ignore[arg-type]
    return AgentServer(Config(port=0), AgentApp(service)).start()


def test_16_threads_against_a_one_slot_agent_all_succeed() -> None:
    measurer = _Slow()
    server = _one_slot_agent(measurer)
    waits: list[tuple[str, str, float, float]] = []
    results: dict[int, dict] = {}
    errors: list[BaseException] = []
    profiler = RemoteProfiler([server.url], timeout_s=120, backoff_s=0.2, max_backoff_s=2.0,
                              on_wait=lambda *info: waits.append(info))

    def client(i: int) -> None:
        try:
            results[i] = profiler.measure(b"model", warmup_runs=0, runs=10 + i, min_seconds=0.0)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(16)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
    finally:
        server.shutdown()
    assert not errors, errors
    assert sorted(results) == list(range(16))
    assert all(results[i]["latency_ms"]["count"] == 10 + i for i in results)
    kinds = [kind for _, kind, _, _ in waits]
    assert "busy" in kinds, kinds  # the wait was shown
    # a connection reset on a loaded machine is retried like any unreachable agent; nothing else
    assert set(kinds) <= {"busy", "unreachable"}, kinds
    intervals = sorted(measurer.intervals)
    assert all(end <= start for (_, end), (start, _) in zip(intervals, intervals[1:]))


def test_a_busy_agent_is_waited_for_until_the_deadline_then_busy() -> None:
    measurer = _Slow(seconds=4.5)
    server = _one_slot_agent(measurer)
    blockers = [threading.Thread(target=lambda i=i: _swallow(urllib.request.Request(
        f"{server.url}/v1/measure?{_query(runs=10 + i)}", data=b"m", method="POST"))) for i in range(2)]
    try:
        for blocker in blockers:
            blocker.start()
            time.sleep(0.3)  # first measuring, second queued: the one slot is taken
        started = time.monotonic()
        with pytest.raises(ProfilerError) as info:
            RemoteProfiler([server.url], timeout_s=3.0, backoff_s=0.2, retries=0).measure(b"m", **FAST)
        elapsed = time.monotonic() - started
    finally:
        server.shutdown()
    assert info.value.kind == "busy" and "busy" in info.value.message
    assert 2.5 <= elapsed < 5.0, elapsed  # retried until the 3 s deadline despite retries=0

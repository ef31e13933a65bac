"""The agent as a real process: clean SIGTERM shutdown, a restart mid-run, import hygiene, the CLI."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from edge_profiler import cli
from edge_profiler.client import RemoteProfiler
from edge_profiler.errors import ProfilerError

REPO = Path(__file__).resolve().parents[2]


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH")) if p)
    env.pop("EDGE_PROFILER_TOKEN", None)
    return env


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start_agent_process(port: int, log_path: Path) -> subprocess.Popen:
    log = open(log_path, "ab")
    process = subprocess.Popen(
        [sys.executable, "-m", "edge_profiler.cli", "serve", "--port", str(port), "--memory-limit-mb", "1024",
         "--timeout-s", "20"], stdout=log, stderr=log, env=_env(), cwd=REPO)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            RemoteProfiler([f"http://127.0.0.1:{port}"], timeout_s=1).health()
            return process
        except ProfilerError:
            assert process.poll() is None, log_path.read_text()
            time.sleep(0.1)
    raise AssertionError("agent did not start: " + log_path.read_text())


def test_sigterm_shuts_down_cleanly_and_logs_requests(tmp_path: Path) -> None:
    port, log = _free_port(), tmp_path / "agent.log"
    process = _start_agent_process(port, log)
    RemoteProfiler([f"http://127.0.0.1:{port}"]).device()
    process.send_signal(signal.SIGTERM)
    assert process.wait(15) == 0
    text = log.read_text()
    assert re.search(r"127\.0\.0\.1 GET /v1/device 200 \d+B", text)
    assert "received SIGTERM, shutting down" in text and "stopped" in text


def test_client_survives_the_agent_restarting_mid_run(tmp_path: Path, tiny_model: bytes) -> None:
    port, log = _free_port(), tmp_path / "agent.log"
    url = f"http://127.0.0.1:{port}"
    process = _start_agent_process(port, log)
    profiler = RemoteProfiler([url], retries=30, backoff_s=0.2, max_backoff_s=1.0, dead_retry_s=0.3)
    results: list[dict] = []
    errors: list[BaseException] = []
    first_done = threading.Event()

    def run() -> None:
        try:
            for i in range(6):
                results.append(profiler.measure(tiny_model, warmup_runs=0, runs=5 + i, min_seconds=0.3))
                first_done.set()
        except BaseException as exc:  # noqa: BLE001 - checked below
            errors.append(exc)
            first_done.set()

    worker = threading.Thread(target=run)
    worker.start()
    try:
        assert first_done.wait(60)
        process.send_signal(signal.SIGTERM)  # mid-run: the client is sending or waiting
        assert process.wait(30) == 0
        time.sleep(0.5)
        process = _start_agent_process(port, log)
        worker.join(120)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(30)
    assert not errors, errors
    assert [r["params"]["runs"] for r in results] == [5, 6, 7, 8, 9, 10]
    assert log.read_text().count("listening on") == 2


def test_agent_and_client_import_no_heavy_packages() -> None:
    code = (
        "import sys, json\n"
        "import edge_profiler.client, edge_profiler.server, edge_profiler.app, edge_profiler.cli\n"
        "import edge_profiler.cli_serve, edge_profiler.cli_bench, edge_profiler.cli_device, edge_profiler._worker\n"
        "import edge_profiler.measure\n"
        "from edge_profiler.litert import load_runtime\n"
        "info = load_runtime().info\n"
        "print(json.dumps({'runtime': info.name, 'modules': sorted(sys.modules)}))\n"
    )
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=_env(), cwd=REPO,
                               timeout=60, check=True)
    report = json.loads(completed.stdout.strip().splitlines()[-1])
    assert report["runtime"] == "ai_edge_litert"
    forbidden = ("tensorflow", "tf_keras", "keras", "optuna", "ray", "search_spaces", "evaluators", "nas")
    loaded = [m for m in report["modules"] if m.split(".")[0] in forbidden]
    assert not loaded, loaded


def test_cli_bench_json_and_summary(tiny_model_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["bench", str(tiny_model_path), "--warmup-runs", "1", "--runs", "4", "--min-seconds", "0",
            "--memory-limit-mb", "1024"]
    assert cli.main([*args, "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["latency_ms"]["count"] == 4 and result["measured_by"] == "local"
    assert cli.main(args) == 0
    summary = capsys.readouterr().out
    for line in ("Initialization:", "First inference:", "Inference (4 runs): mean", "Peak memory:", "Throttled:"):
        assert line in summary


def test_cli_bench_reports_a_bad_model(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.tflite"
    bad.write_bytes(b"not a model at all")
    assert cli.main(["bench", str(bad), "--json"]) == 1
    assert json.loads(capsys.readouterr().out)["error"]["kind"] == "rejected"


def test_cli_device_and_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["device"]) == 0
    assert "cpu_count" in json.loads(capsys.readouterr().out)
    assert cli.main([]) == 2
    help_text = capsys.readouterr().out
    assert all(name in help_text for name, _, _ in cli.SUBCOMMANDS)


def test_cli_serve_refuses_a_public_address_without_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("EDGE_PROFILER_TOKEN", raising=False)
    assert cli.main(["serve", "--host", "0.0.0.0", "--port", "0"]) == 2


def test_litert_json_has_the_reference_tools_layout(tiny_model_path: Path, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    """Same keys as LiteRT's benchmark_litert_model.py --result_json, run here on the same model."""
    reference_path = tmp_path / "reference.json"
    subprocess.run([sys.executable, "-m", "ai_edge_litert.tools.benchmark_litert_model", f"--model={tiny_model_path}",
                    "--num_threads=1", "--warmup_runs=2", "--num_runs=7", f"--result_json={reference_path}"],
                   check=True, capture_output=True, env=_env(), timeout=120)
    reference = json.loads(reference_path.read_text())
    assert cli.main(["bench", str(tiny_model_path), "--warmup-runs", "2", "--runs", "7", "--min-seconds", "0",
                     "--litert-json"]) == 0
    ours = json.loads(capsys.readouterr().out)
    assert set(ours["latency"]) == set(reference["latency"])
    assert set(reference) - set(ours) <= {"signature", "fully_accelerated", "throughput_mb_s"}
    for key in ("num_runs", "num_warmup_runs"):
        assert ours["latency"][key] == reference["latency"][key]
    assert ours["num_threads"] == reference["num_threads"] == 1
    assert ours["model_size_mb"] == pytest.approx(reference["model_size_mb"], abs=0.01)

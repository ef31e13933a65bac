"""The Raspberry Pi install route, as README.md and docs/raspberry_pi.md give it (issue 14).

The wheel is built as ``make wheel`` builds it (``pip wheel --no-deps``, PEP 517 with build
isolation), installed with its ``[agent]`` extra into a fresh virtual environment (pip resolves
NumPy and ai-edge-litert from the package index; the pip cache makes that seconds), and then the
agent is used as a Pi user would: no TensorFlow, ``edge-profiler bench`` on an int8 model, and
``edge-profiler serve`` answering ``GET /v1/health``. A failed build or install fails the test (the
route the docs give must work), it never skips.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request
import venv
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
INT8_MODEL = ROOT / "tests" / "fixtures" / "digits8" / "int8.tflite"
# What the wheel is built from: the packages and the two files pyproject.toml names.
SOURCES = ("pyproject.toml", "README.md", "nas", "search_spaces", "evaluators", "edge_profiler")
LISTENING = re.compile(r"listening on (http://127\.0\.0\.1:\d+)")

pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class Installed:
    """A fresh venv with the wheel and its ``[agent]`` extra."""

    wheel: Path
    python: Path
    bin_dir: Path


def _run(args: list[str | Path], **kwargs: object) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=600, **kwargs)
    assert result.returncode == 0, f"{' '.join(map(str, args))} exited {result.returncode}:\n{result.stderr[-3000:]}"
    return result


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    tmp = tmp_path_factory.mktemp("wheel_route")
    # Build from a copy: setuptools writes build/ and *.egg-info next to the sources, and the
    # checkout is shared.
    src = tmp / "src"
    src.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in SOURCES:
        path = ROOT / name
        (shutil.copytree(path, src / name, ignore=ignore) if path.is_dir() else shutil.copy2(path, src / name))
    dist = tmp / "dist"
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", dist, src])
    (wheel,) = dist.glob("edge_nas-*.whl")
    env_dir = tmp / "venv"
    # No pip inside (its bootstrap costs seconds): this interpreter's pip installs into it (--python).
    venv.EnvBuilder(with_pip=False).create(env_dir)
    python = env_dir / "bin" / "python"
    _run([sys.executable, "-m", "pip", "--python", python, "install", "-q", f"{wheel}[agent]"])
    return Installed(wheel, python, env_dir / "bin")


def test_wheel_metadata_keeps_tensorflow_out_of_the_agent(installed: Installed) -> None:
    with zipfile.ZipFile(installed.wheel) as archive:
        (metadata,) = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        text = archive.read(metadata).decode()
    requires = [line.split(":", 1)[1].strip() for line in text.splitlines() if line.startswith("Requires-Dist:")]
    base = [r for r in requires if "extra ==" not in r]
    agent = [r for r in requires if 'extra == "agent"' in r]
    assert [r.split(">")[0] for r in base] == ["numpy"], base
    assert any(r.startswith("ai-edge-litert") for r in agent), agent
    assert not any("tensorflow" in r for r in base + agent)
    assert "License-Expression: Apache-2.0" in text


def test_agent_install_has_no_tensorflow(installed: Installed) -> None:
    probe = ("import importlib.util as u, json; "
             "print(json.dumps({m: u.find_spec(m) is not None for m in "
             "('tensorflow', 'tf_keras', 'keras', 'ai_edge_litert', 'numpy', 'edge_profiler')}))")
    found = json.loads(_run([installed.python, "-c", probe]).stdout)
    assert found == {"tensorflow": False, "tf_keras": False, "keras": False,
                     "ai_edge_litert": True, "numpy": True, "edge_profiler": True}


def test_bench_measures_an_int8_model(installed: Installed) -> None:
    out = _run([installed.bin_dir / "edge-profiler", "bench", "--json", "--runs", "5", "--warmup-runs", "1",
                "--min-seconds", "0", INT8_MODEL]).stdout
    result = json.loads(out)
    assert result["latency_ms"]["count"] >= 5
    assert 0 < result["latency_ms"]["p50"] < 1000
    assert result["runtime"]["name"] == "ai_edge_litert"


@pytest.fixture()
def served(installed: Installed, tmp_path: Path) -> Iterator[str]:
    log = tmp_path / "serve.log"
    env = {k: v for k, v in os.environ.items() if k != "EDGE_PROFILER_TOKEN"}  # loopback, no token
    with log.open("w") as sink:
        process = subprocess.Popen([str(installed.bin_dir / "edge-profiler"), "serve", "--port", "0"],
                                   stdout=sink, stderr=subprocess.STDOUT, env=env)
    try:
        deadline = time.monotonic() + 60
        while not (match := LISTENING.search(log.read_text())):
            assert process.poll() is None, f"serve exited {process.returncode}:\n{log.read_text()}"
            assert time.monotonic() < deadline, f"serve did not start in 60 s:\n{log.read_text()}"
            time.sleep(0.1)
        yield match.group(1)
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_serve_answers_health(served: str) -> None:
    with urllib.request.urlopen(f"{served}/v1/health", timeout=10) as response:
        assert response.status == 200
        health = json.loads(response.read())
    assert health["status"] == "ok"
    assert health["runtime"]["name"] == "ai_edge_litert"
    assert health["version"] == "0.1.0"

"""Fuzz a live agent with mutated models (issue 12); protocol and results in docs/reliability.md.

Starts ``edge-profiler serve`` as its own process on a free 127.0.0.1 port, uploads >= 1,000
mutants of a tiny int8 model (bit flips, truncations, garbage, large garbage, changed identifiers,
shuffled chunks, huge dimensions) with plain ``urllib``, and counts the answers per family and
error kind, unstructured answers, hangs, agent deaths and the agent's RSS (``/proc/PID/status``).

    .venv/bin/python -m benchmarks.agent_fuzz --models 1020 --seed 20261123 --json out.json

Exit status 0 only when there were 0 deaths, 0 unstructured answers, 0 hangs and the peak RSS
stayed within ``--rss-bound-mb`` of the RSS after start-up.
"""

from __future__ import annotations

import argparse
import collections
import json
import logging
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from edge_profiler.errors import KINDS

logger = logging.getLogger("agent_fuzz")
REPO = Path(__file__).resolve().parent.parent
#: Share of each family in ``--models`` (docs/reliability.md, protocol table).
FAMILIES = {"bit flips": 300, "truncations": 150, "garbage": 150, "large garbage": 30, "identifiers": 100,
            "shuffled chunks": 150, "huge dimensions": 140}
HANG_S = 120.0
QUERY = "warmup_runs=0&runs=1&min_seconds=0"


def _family_counts(total: int) -> dict[str, int]:
    base = sum(FAMILIES.values())
    counts = {name: max(1, round(total * share / base)) for name, share in FAMILIES.items()}
    counts["bit flips"] += total - sum(counts.values())
    return counts


def _flip(model: bytes, rng: np.random.Generator) -> bytes:
    data = bytearray(model)
    for _ in range(int(rng.integers(1, 17))):
        position = int(rng.integers(0, min(len(data), 2048)))
        data[position] ^= 1 << int(rng.integers(0, 8))
    return bytes(data)


def _garbage(rng: np.random.Generator, size: int, with_identifier: bool) -> bytes:
    data = bytearray(rng.integers(0, 256, size, dtype=np.uint8).tobytes())
    if with_identifier and size >= 8:
        data[4:8] = b"TFL3"
    return bytes(data)


def _identifier(model: bytes, rng: np.random.Generator) -> bytes:
    choices = [b"TFL2", b"TFL4", b"tfl3", b"\0\0\0\0", b"LFT3", bytes(rng.integers(0, 256, 4, dtype=np.uint8))]
    return model[:4] + choices[int(rng.integers(0, len(choices)))] + model[8:]


def _shuffle(model: bytes, rng: np.random.Generator) -> bytes:
    cuts = sorted(int(c) for c in rng.choice(np.arange(1, len(model)), int(rng.integers(1, 16)), replace=False))
    chunks = [model[a:b] for a, b in zip([0, *cuts], [*cuts, len(model)])]
    order = rng.permutation(len(chunks))
    if (order == np.arange(len(chunks))).all():
        order = order[::-1]
    return b"".join(chunks[i] for i in order)


def _huge_shape(rng: np.random.Generator) -> list[int]:
    pick = [2**31 - 1, 2**20, 65536, 30000, 0, -5, int(rng.integers(1, 2**31 - 1))]
    side = pick[int(rng.integers(0, len(pick)))]
    shapes = [[1, side, side, 3], [side, 32, 32, 3], [1, 32, 32, side], [1, side, 1, 3]]
    return shapes[int(rng.integers(0, len(shapes)))]


def make_mutants(model: bytes, total: int, rng: np.random.Generator) -> list[tuple[str, Any]]:
    """(family, bytes) pairs; large garbage is a (size, seed) recipe, made when sent (saves memory)."""
    from tests.edge_profiler.models import with_input_shape

    counts = _family_counts(total)
    cases: list[tuple[str, Any]] = []
    cases += [("bit flips", _flip(model, rng)) for _ in range(counts["bit flips"])]
    cases += [("truncations", model[: int(rng.integers(0, len(model)))]) for _ in range(counts["truncations"])]
    cases += [("garbage", _garbage(rng, int(rng.integers(0, 65536)), i % 2 == 1)) for i in range(counts["garbage"])]
    cases += [("large garbage", (int(rng.integers(8, 49)) * 2**20, int(rng.integers(0, 2**31))))
              for _ in range(counts["large garbage"])]
    cases += [("identifiers", _identifier(model, rng)) for _ in range(counts["identifiers"])]
    cases += [("shuffled chunks", _shuffle(model, rng)) for _ in range(counts["shuffled chunks"])]
    cases += [("huge dimensions", with_input_shape(model, _huge_shape(rng))) for _ in range(counts["huge dimensions"])]
    order = rng.permutation(len(cases))
    return [cases[i] for i in order]


def _rss_mb(pid: int, field: str = "VmRSS") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024.0
    raise RuntimeError(f"no {field} for pid {pid}")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _request(url: str, token: str, data: bytes | None = None, path: str = "/v1/measure?" + QUERY,
             timeout_s: float = HANG_S) -> tuple[int | None, bytes]:
    """(status, body); status None when no answer came within ``timeout_s`` or the connection failed."""
    request = urllib.request.Request(url + path, data=data, method="POST" if data is not None else "GET",
                                     headers={"Authorization": f"Bearer {token}",
                                              "Content-Type": "application/octet-stream"})
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()
    except (urllib.error.URLError, OSError) as exc:
        logger.warning("no answer: %s", getattr(exc, "reason", exc))
        return None, b""


def classify_answer(status: int, body: bytes) -> str:
    """``measured``, the error kind, or ``unstructured`` (not the agent's JSON shape)."""
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return "unstructured"
    if status == 200:
        return "measured" if isinstance(payload.get("latency_ms"), dict) else "unstructured"
    error = payload.get("error") if isinstance(payload, dict) else None
    if not isinstance(error, dict) or error.get("kind") not in KINDS or not isinstance(error.get("message"), str):
        return "unstructured"
    expected = {"rejected": 422, "crashed": 422, "timeout": 422, "out_of_memory": 422, "too_large": 413,
                "bad_request": 400, "busy": 503}.get(error["kind"])
    return error["kind"] if expected in (None, status) else "unstructured"


def start_agent(token: str, log_path: Path) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    env = {**os.environ, "EDGE_PROFILER_TOKEN": token,
           "PYTHONPATH": os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p)}
    process = subprocess.Popen(
        [sys.executable, "-m", "edge_profiler.cli", "serve", "--port", str(port), "--max-upload-mb", "64",
         "--memory-limit-mb", "1024", "--timeout-s", "20", "--read-timeout-s", "10"],
        stdout=log_path.open("ab"), stderr=subprocess.STDOUT, env=env, cwd=REPO)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the agent exited at start-up: {log_path.read_text()[-2000:]}")
        if _request(url, token, path="/v1/health", timeout_s=2)[0] == 200:
            return process, url
        time.sleep(0.2)
    process.kill()
    raise RuntimeError("the agent did not answer /v1/health within 60 s")


def run(model: bytes, total: int, seed: int, log_path: Path) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    mutants = make_mutants(model, total, rng)
    token = secrets.token_hex(16)
    process, url = start_agent(token, log_path)
    start_rss_mb = _rss_mb(process.pid)
    counts: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    hangs = deaths = 0
    rss_series: list[float] = []
    started = time.monotonic()
    try:
        for family, data in tqdm(mutants, desc="mutants", unit="model"):
            if family == "large garbage":
                size, garbage_seed = data
                data = _garbage(np.random.default_rng(garbage_seed), size, True)
            status, body = _request(url, token, data)
            del data
            answer = "hang" if status is None else classify_answer(status, body)
            hangs += answer == "hang"
            counts[family][answer] += 1
            if process.poll() is not None or _request(url, token, path="/v1/health", timeout_s=30)[0] != 200:
                deaths += 1
                logger.error("the agent died after a %s mutant", family)
                process, url = start_agent(token, log_path)
            rss_series.append(_rss_mb(process.pid))
        status, body = _request(url, token, model)
        valid_after = classify_answer(status or 0, body) == "measured"
        peak_rss_mb = max(_rss_mb(process.pid, "VmHWM"), *rss_series)
    finally:
        process.terminate()
        process.wait(30)
    return {"seed": seed, "models": len(mutants), "families": _family_counts(total), "deaths": deaths,
            "hangs": hangs, "unstructured": sum(c["unstructured"] for c in counts.values()),
            "answers": {family: dict(c) for family, c in sorted(counts.items())},
            "answers_total": dict(sum(counts.values(), collections.Counter())),
            "start_rss_mb": start_rss_mb, "max_sampled_rss_mb": max(rss_series), "peak_rss_mb": peak_rss_mb,
            "final_rss_mb": rss_series[-1], "valid_model_measured_after": valid_after,
            "wall_s": time.monotonic() - started}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=1020, help="number of mutants (>= 1000 for the record)")
    parser.add_argument("--seed", type=int, default=20261123)
    parser.add_argument("--model", type=Path, help="seed .tflite (default: the tests' tiny int8 model)")
    parser.add_argument("--rss-bound-mb", type=float, default=200.0, help="allowed peak RSS above start-up")
    parser.add_argument("--json", type=Path, help="write the results here")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    if args.model is not None:
        model = args.model.read_bytes()
    else:
        from tests.edge_profiler.models import tiny_int8_model

        model = tiny_int8_model()
    with tempfile.TemporaryDirectory(prefix="agent-fuzz-") as tmp:
        results = run(model, args.models, args.seed, Path(tmp) / "agent.log")
    results["rss_bound_mb"] = args.rss_bound_mb
    results["passed"] = (results["deaths"] == 0 and results["unstructured"] == 0 and results["hangs"] == 0
                         and results["peak_rss_mb"] <= results["start_rss_mb"] + args.rss_bound_mb
                         and results["valid_model_measured_after"])
    text = json.dumps(results, indent=2)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(text + "\n")
    print(text)
    return 0 if results["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())

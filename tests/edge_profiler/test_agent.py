"""The real agent on loopback: HTTP server, measurement worker, client, all together."""

from __future__ import annotations

import collections
import json
import socket
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from edge_profiler.client import RemoteProfiler
from edge_profiler.errors import MODEL_KINDS, ProfilerError
from edge_profiler.server import AgentServer, Config
from tests.edge_profiler import models
from tests.edge_profiler.conftest import FAST, start_agent

TOKEN = "agent-token-0123456789abcdef"


def test_repeated_requests_are_cached_and_the_agent_describes_itself(agent: AgentServer,
                                                                     tiny_model_path: Path) -> None:
    """Schema and errors are the shared suite's (test_profilers.py); the cache is the agent's own."""
    profiler = RemoteProfiler([agent.url])
    result = profiler.measure(tiny_model_path, threads=1, **FAST)
    assert result["device"]["runtime"]["name"] == "ai_edge_litert"
    assert result["cached"] is False
    assert profiler.measure(tiny_model_path, threads=1, **FAST)["cached"] is True
    assert profiler.health()["queue"]["measurements_done"] == 1
    assert profiler.device()["cpu_count"] >= 1


def test_200_malformed_models_get_structured_answers_and_the_agent_stays_up(agent: AgentServer, tiny_model: bytes,
                                                                             rng: np.random.Generator) -> None:
    cases = models.mutations(tiny_model, rng, random=70, truncated=70, flipped=60)
    assert len(cases) == 200
    profiler = RemoteProfiler([agent.url], retries=0)
    outcomes: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    for index, (family, data) in enumerate(cases):
        try:
            result = profiler.measure(data, warmup_runs=0, runs=1, min_seconds=0.0)
        except ProfilerError as exc:
            assert exc.kind in MODEL_KINDS, (family, exc)
            assert exc.message
            outcomes[family][exc.kind] += 1
        else:  # a flipped bit in a value the runtime accepts: a valid model, validly measured
            assert family == "bit-flipped", family
            assert result["latency_ms"]["count"] == 1
            outcomes[family]["measured"] += 1
        if index % 50 == 49:
            assert profiler.health()["status"] == "ok"
    assert sum(outcomes["random"].values()) == 70 and outcomes["random"]["rejected"] == 70
    assert sum(outcomes["truncated"].values()) == 70 and outcomes["truncated"]["rejected"] == 70
    assert outcomes["bit-flipped"]["measured"] < 60  # most flips break the model
    # still measures a good model afterwards
    assert profiler.measure(tiny_model, **FAST)["latency_ms"]["count"] == 5


def test_16_concurrent_clients_against_a_one_slot_agent_all_succeed_and_never_overlap(tiny_model: bytes) -> None:
    """Issue 12: with one measurement running and one waiting, 14 clients get `busy` at first and
    must wait their turn (until their deadline), not fail."""
    agent = start_agent(queue_size=1)
    results: dict[int, dict] = {}
    errors: list[BaseException] = []
    waits: list[tuple] = []

    def client(i: int) -> None:
        try:  # distinct `runs` per client, so no answer comes from the cache
            profiler = RemoteProfiler([agent.url], backoff_s=0.2, max_backoff_s=2.0, timeout_s=240,
                                      on_wait=lambda *info: waits.append(info))
            results[i] = profiler.measure(tiny_model, warmup_runs=0, runs=10 + i, min_seconds=0.0)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(16)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(240)
    finally:
        agent.shutdown()
    assert not errors, errors
    assert any(kind == "busy" for _, kind, _, _ in waits)
    assert sorted(results) == list(range(16))
    for i, result in results.items():
        assert result["params"]["runs"] == 10 + i and result["latency_ms"]["count"] == 10 + i
        assert result["cached"] is False
    intervals = sorted((r["started_at"], r["finished_at"]) for r in results.values())
    for (_, end), (next_start, _) in zip(intervals, intervals[1:]):
        assert end <= next_start, "two measurements overlapped"


def test_token_checks_over_http(tiny_model: bytes) -> None:
    server = start_agent(token=TOKEN)
    try:
        for token in (None, "wrong-token-0123456789"):
            with pytest.raises(ProfilerError) as info:
                RemoteProfiler([server.url], token=token).measure(tiny_model, **FAST)
            assert info.value.kind == "unauthorized"
            assert ("no token" if token is None else "wrong") in info.value.message
        with pytest.raises(ProfilerError) as info:  # a big upload still gets the 401, not a reset
            RemoteProfiler([server.url], token="wrong-token-0123456789", retries=0).measure(
                tiny_model + b"\0" * (8 * 2**20), **FAST)
        assert info.value.kind == "unauthorized"
        result = RemoteProfiler([server.url], token=TOKEN).measure(tiny_model, **FAST)
        assert result["latency_ms"]["count"] == 5
    finally:
        server.shutdown()


def test_upload_over_the_limit_gets_413(tiny_model: bytes) -> None:
    server = start_agent(max_upload_mb=0.001)  # ~1 KB
    try:
        with pytest.raises(ProfilerError) as info:  # the client knows the limit from /v1/health
            RemoteProfiler([server.url], retries=0).measure(tiny_model, **FAST)
        assert info.value.kind == "too_large" and "upload limit" in info.value.message
        request = urllib.request.Request(server.url + "/v1/measure", data=tiny_model, method="POST")
        with pytest.raises(urllib.error.HTTPError) as http_error:  # and the agent answers 413 itself
            urllib.request.urlopen(request, timeout=30)
        assert http_error.value.code == 413
        assert json.loads(http_error.value.read())["error"]["kind"] == "too_large"
    finally:
        server.shutdown()


def test_binding_beyond_loopback_requires_a_token(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("EDGE_PROFILER_TOKEN", raising=False)
    assert Config().resolve_token() is None
    with pytest.raises(ValueError, match="token"):
        Config(host="0.0.0.0").resolve_token()
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    assert Config(host="0.0.0.0", token_file=token_file).resolve_token() == TOKEN
    monkeypatch.setenv("EDGE_PROFILER_TOKEN", TOKEN)
    assert Config(host="192.168.1.20").resolve_token() == TOKEN
    with pytest.raises(ValueError, match="16 characters"):
        Config(token="short").resolve_token()


def _dead_url() -> str:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


def test_pool_spreads_work_and_skips_a_dead_agent(tiny_model: bytes) -> None:
    first, second = start_agent(), start_agent()
    try:
        dead = _dead_url()
        profiler = RemoteProfiler([dead, first.url, second.url], backoff_s=0.05, dead_retry_s=60)
        results = profiler.measure_many([tiny_model] * 6, max_workers=3, warmup_runs=0, runs=3, min_seconds=0.05)
        assert all(isinstance(r, dict) for r in results), results
        used = collections.Counter(r["measured_by"] for r in results)
        assert set(used) == {first.url, second.url}
        with pytest.raises(ProfilerError) as info:
            RemoteProfiler([dead], retries=1, backoff_s=0.01, dead_retry_s=0.05).measure(tiny_model, **FAST)
        assert info.value.kind == "unreachable" and "gave up after 2 attempts" in info.value.message
    finally:
        first.shutdown()
        second.shutdown()


def test_model_errors_are_not_retried(agent: AgentServer, huge_model: bytes) -> None:
    profiler = RemoteProfiler([agent.url])
    started = time.monotonic()
    with pytest.raises(ProfilerError) as info:
        profiler.measure(huge_model, **FAST)
    assert info.value.kind == "out_of_memory"
    assert profiler.health()["queue"]["measurements_done"] == 1
    assert time.monotonic() - started < 30


def test_a_dead_agent_is_retried_later(tiny_model: bytes) -> None:
    url = _dead_url()
    port = int(url.rsplit(":", 1)[1])
    profiler = RemoteProfiler([url], retries=20, backoff_s=0.05, max_backoff_s=0.3, dead_retry_s=0.2)
    outcome: list[object] = []
    worker = threading.Thread(target=lambda: outcome.append(profiler.measure(tiny_model, **FAST)))
    worker.start()
    time.sleep(0.5)  # the client has failed a few times by now
    server = start_agent(port=port)
    try:
        worker.join(60)
    finally:
        server.shutdown()
    assert len(outcome) == 1 and isinstance(outcome[0], dict)
    assert outcome[0]["measured_by"] == url

"""Shared fixtures: one tiny int8 model converted once per session, an absurd-shape variant, and
a real agent on a free loopback port."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from edge_profiler.server import AgentServer, Config
from tests.edge_profiler import models

# Small measurement parameters: the tests check behaviour, not speed.
FAST = {"warmup_runs": 1, "runs": 5, "min_seconds": 0.0}


@pytest.fixture(scope="session")
def tiny_model_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 32x32x3 int8 conv net (int8 input and output), converted once per session (~2 s)."""
    path = tmp_path_factory.mktemp("models") / "tiny_int8.tflite"
    path.write_bytes(models.tiny_int8_model())
    return path


@pytest.fixture(scope="session")
def tiny_model(tiny_model_path: Path) -> bytes:
    return tiny_model_path.read_bytes()


@pytest.fixture(scope="session")
def huge_model(tiny_model: bytes) -> bytes:
    """The tiny model with its input patched to 1x12000x12000x3 (432 MB int8, GBs of scratch)."""
    return models.with_input_shape(tiny_model, [1, 12000, 12000, 3])


@pytest.fixture()
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


def start_agent(**overrides: object) -> AgentServer:
    config = dataclasses.replace(Config(port=0, memory_limit_mb=1024, timeout_s=20.0), **overrides)
    return AgentServer(config).start()


@pytest.fixture()
def agent() -> Iterator[AgentServer]:
    """A real agent (threaded HTTP server + measurement worker) on 127.0.0.1, any free port."""
    server = start_agent()
    yield server
    server.shutdown()

"""Fixtures shared by the strategy suites: a local Ray instance for the module that asks for it."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def ray_session():
    """Ray on this machine (2 CPUs), started only when a Ray case runs, shut down after the module."""
    ray = pytest.importorskip("ray")
    # Workers unpickle the fake evaluator: they import tests.nas.fakes from the repository.
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             runtime_env={"env_vars": {"PYTHONPATH": str(ROOT)}})
    yield
    ray.shutdown()

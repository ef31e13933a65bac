"""A tiny trained supernet for the nas tests of ``evaluator: supernet`` (issue 16), trained once per session.

Two stages at 16 px on digits, one epoch over 30 % of the training batches (about 10 s): enough for
inherited scoring to run end to end, not for good accuracy. ``supernet_config`` builds a search
config that scores with it; the MobileNetV2 reference is not a subnet of this space, so it is off.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

TINY_SPACE = """
name: tiny
input: {channels: 1, num_classes: 10}
resolution: [16]
width: [0.5, 1.0]
stem: {channels: 16, kernel: 3, stride: 2}
head: {channels: 64}
stages:
  - {channels: 16, stride: 2, block: [mbconv, fused_mbconv], expansion: [2, 4], kernel: [3, 5], depth: [1, 2]}
  - {channels: 24, stride: 1, block: mbconv, expansion: [2, 4], kernel: [3, 5], depth: [1, 2],
     se_ratio: [0.0, 0.25]}
"""
SUPERNET_OVERRIDES = {
    "evaluator.name": "supernet",
    "evaluator.supernet.bn_calibration_images": 100,
    "evaluator.supernet.training.epochs": 1,
    "evaluator.supernet.training.learning_rate": 0.005,
    "evaluator.supernet.training.train_fraction": 0.3,
    "search_space.resolutions": [16],
    "reference.baseline": None,
    "profiler.runs": 3,
    "profiler.warmup_runs": 1,
}


def _values(info: dict[str, Any], runs: Path, overrides: dict[str, Any]) -> dict[str, Any]:
    """The dotted config keys of a study ``sn`` in ``runs`` scored by the supernet of ``info``."""
    return {**SUPERNET_OVERRIDES, "search_space.source": str(info["space_yaml"]),
            "evaluator.supernet.folder": str(info["folder"]), "study.runs_dir": str(runs), "study.name": "sn",
            **{key.replace("__", "."): value for key, value in overrides.items()}}


def supernet_config(info: dict[str, Any], runs: Path, **overrides: Any) -> Any:
    """A search config (study ``sn`` in ``runs``) scored by the session's tiny supernet."""
    from nas.config import load_config

    values = _values(info, runs, overrides)
    return load_config(overrides=values)


@pytest.fixture(scope="session")
def tiny_supernet(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """``{"space_yaml", "folder", "summary"}`` of a supernet trained by ``nas supernet train``'s function."""
    from nas.cli.supernet import train

    base = tmp_path_factory.mktemp("tiny_supernet")
    space_yaml = base / "space.yaml"
    space_yaml.write_text(TINY_SPACE, encoding="utf-8")
    info = {"space_yaml": space_yaml, "folder": base / "supernet"}
    summary = train(supernet_config(info, base / "runs"), progress=False)
    return {**info, "summary": summary}


def supernet_args(info: dict[str, Any], runs: Path, **overrides: Any) -> list[str]:
    """The ``--set key=value`` flags of :func:`supernet_config` (for ``nas search`` and ``nas supernet train``)."""
    import json

    values = _values(info, runs, overrides)
    return [word for key, value in values.items() for word in ("--set", f"{key}={json.dumps(value)}")]

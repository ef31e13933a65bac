"""The supernet folder: ``supernet.json`` (spec, training config, progress) and TensorFlow checkpoints.

``supernet.json`` is replaced atomically after each epoch's checkpoint is written, so an interrupted
training leaves the previous epoch's state intact and readable.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any

from evaluators.supernet.spec import SupernetError, SupernetSpec, SupernetTrainConfig

__all__ = ["MANIFEST_NAME", "Manifest", "read_manifest", "write_manifest"]

MANIFEST_NAME = "supernet.json"
FORMAT_VERSION = 1


@dataclasses.dataclass(frozen=True)
class Manifest:
    """What ``supernet.json`` holds."""

    spec: SupernetSpec
    config: SupernetTrainConfig
    space: dict[str, Any]
    epochs_done: int
    finished: bool
    checkpoint: str | None  # prefix relative to the folder
    history: tuple[dict[str, float], ...] = ()
    train_seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"format_version": FORMAT_VERSION, "spec": self.spec.to_dict(), "config": self.config.to_dict(),
                "space": self.space, "epochs_done": self.epochs_done, "finished": self.finished,
                "checkpoint": self.checkpoint, "history": list(self.history),
                "train_seconds": round(self.train_seconds, 3)}


def read_manifest(folder: Path) -> Manifest | None:
    """The folder's manifest, None when there is none; a damaged one raises :class:`SupernetError`."""
    path = Path(folder) / MANIFEST_NAME
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise SupernetError(f"{path}: unreadable supernet manifest ({error})") from None
    if not isinstance(data, dict) or data.get("format_version") != FORMAT_VERSION:
        raise SupernetError(f"{path}: not a supernet manifest of format {FORMAT_VERSION}")
    try:
        return Manifest(spec=SupernetSpec.from_dict(data["spec"]), config=SupernetTrainConfig.from_dict(data["config"]),
                        space=data["space"], epochs_done=int(data["epochs_done"]), finished=bool(data["finished"]),
                        checkpoint=data["checkpoint"], history=tuple(data.get("history", ())),
                        train_seconds=float(data.get("train_seconds", 0.0)))
    except (KeyError, TypeError, ValueError) as error:
        raise SupernetError(f"{path}: damaged supernet manifest ({type(error).__name__}: {error})") from None


def write_manifest(folder: Path, manifest: Manifest) -> Path:
    path = Path(folder) / MANIFEST_NAME
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(manifest.to_dict(), indent=1), encoding="utf-8")
    os.replace(tmp, path)
    return path

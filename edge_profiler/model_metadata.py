"""The sidecar of an exported model: ``model.json`` next to ``model.tflite``.

It tells an on-device program what the model expects and what its outputs mean, so that
``edge-profiler classify`` needs neither TensorFlow nor the training code. Standard library only;
``nas export`` writes it with :func:`write_sidecar`, the Pi reads it with :func:`read_sidecar`.
The format is documented in docs/interfaces.md ("Exported model").
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FORMAT_VERSION = 1
RESIZE_MODES = ("stretch", "center_crop")


class MetadataError(ValueError):
    """The sidecar is missing or does not hold what the format requires; the message says what."""


@dataclass(frozen=True)
class ModelMetadata:
    """What a model expects (input size, channels, normalization) and what it outputs (labels).

    Input pixels ``p`` in [0, 255] are fed as ``(p - mean) / std``; ``labels[i]`` names output ``i``.
    ``resize`` is how a frame of another shape becomes ``resolution`` x ``resolution``: ``stretch``
    (as the training image loader does) or ``center_crop`` (largest centred square, then resize).
    """

    labels: tuple[str, ...]
    resolution: int
    channels: int
    architecture: str
    mean: float = 127.5
    std: float = 127.5
    resize: str = "stretch"
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if len(self.labels) < 2 or not all(isinstance(label, str) and label for label in self.labels):
            raise MetadataError(f"labels must be at least two non-empty strings, got {list(self.labels)}")
        if len(set(self.labels)) != len(self.labels):
            raise MetadataError(f"labels must be distinct, got {list(self.labels)}")
        if self.resolution < 1:
            raise MetadataError(f"input.resolution must be a positive integer, got {self.resolution}")
        if self.channels not in (1, 3):
            raise MetadataError(f"input.channels must be 1 (grayscale) or 3 (RGB), got {self.channels}")
        if not self.std > 0:
            raise MetadataError(f"normalization.std must be positive, got {self.std}")
        if self.resize not in RESIZE_MODES:
            raise MetadataError(f"input.resize must be one of {', '.join(RESIZE_MODES)}, got {self.resize!r}")

    def to_json(self) -> dict[str, Any]:
        return {
            **self.extra,
            "format_version": FORMAT_VERSION,
            "labels": list(self.labels),
            "normalization": {"mean": self.mean, "std": self.std},
            "input": {"resolution": self.resolution, "channels": self.channels, "resize": self.resize},
            "architecture": self.architecture,
        }

    @classmethod
    def from_json(cls, data: Any, *, source: str = "sidecar") -> ModelMetadata:
        """Parse and validate; ``source`` names the file in error messages."""
        if not isinstance(data, dict):
            raise MetadataError(f"{source}: expected a JSON object")
        version = data.get("format_version", FORMAT_VERSION)
        if version != FORMAT_VERSION:
            raise MetadataError(f"{source}: format_version {version} is not supported (expected {FORMAT_VERSION})")
        try:
            labels = data["labels"]
            normalization = data["normalization"]
            model_input = data["input"]
            architecture = data["architecture"]
            resolution, channels = model_input["resolution"], model_input["channels"]
            mean, std = normalization["mean"], normalization["std"]
        except (KeyError, TypeError) as exc:
            raise MetadataError(
                f"{source}: missing {exc}; a sidecar needs labels, normalization {{mean, std}}, "
                "input {resolution, channels} and architecture"
            ) from exc
        if not isinstance(labels, list):
            raise MetadataError(f"{source}: labels must be a list of strings")
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (mean, std)):
            raise MetadataError(f"{source}: normalization mean and std must be numbers")
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in (resolution, channels)):
            raise MetadataError(f"{source}: input resolution and channels must be integers")
        if not isinstance(architecture, str):
            raise MetadataError(f"{source}: architecture must be a string")
        known = {"format_version", "labels", "normalization", "input", "architecture"}
        try:
            return cls(
                labels=tuple(labels),
                resolution=resolution,
                channels=channels,
                architecture=architecture,
                mean=float(mean),
                std=float(std),
                resize=model_input.get("resize", "stretch"),
                extra={key: value for key, value in data.items() if key not in known},
            )
        except MetadataError as exc:
            raise MetadataError(f"{source}: {exc}") from exc


def sidecar_path(model_path: str | Path) -> Path:
    """``model.tflite`` -> ``model.json``."""
    return Path(model_path).with_suffix(".json")


def write_sidecar(model_path: str | Path, metadata: ModelMetadata) -> Path:
    """Write the sidecar next to ``model_path``; returns its path."""
    path = sidecar_path(model_path)
    path.write_text(json.dumps(metadata.to_json(), indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return path


def read_sidecar(path: str | Path) -> ModelMetadata:
    """Read a sidecar (``model.json``, or the ``model.tflite`` it belongs to)."""
    path = Path(path)
    if path.suffix == ".tflite":
        path = sidecar_path(path)
    if not path.is_file():
        raise MetadataError(
            f"model metadata {path} not found; `nas export` writes it next to the .tflite file "
            "(pass another one with --metadata)"
        )
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise MetadataError(f"{path} is not JSON ({exc})") from exc
    return ModelMetadata.from_json(data, source=str(path))

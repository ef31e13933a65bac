"""Which data a search trains on, and its proxy settings: a frozen value validated when built."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from evaluators.datasets._registry import FOLDER_PREFIX, get_source
from evaluators.errors import DatasetError

AUGMENTATIONS = ("flip", "crop", "brightness")


@dataclass(frozen=True)
class DatasetConfig:
    """Which data, and the proxy settings of a search.

    ``name`` is one of ``DATASET_NAMES`` or ``folder:<path>``; ``image-folder`` reads ``data_dir``.
    ``fraction`` keeps that share of the training split (stratified). ``val_fraction`` of the
    training data becomes the validation split; ``test_fraction`` makes a test split for datasets
    without an official one (digits, lfw-faces, image folders without their own ``val/``).
    """

    name: str = "digits"
    data_dir: str | None = None
    fraction: float = 1.0
    val_fraction: float = 0.2
    test_fraction: float = 0.15
    seed: int = 0
    augmentation: tuple[str, ...] = ()
    shuffle_buffer: int = 10_000

    def __post_init__(self) -> None:
        if not 0.0 < self.fraction <= 1.0:
            raise DatasetError(f"fraction must be in (0, 1], got {self.fraction}")
        if not 0.0 < self.val_fraction < 1.0:
            raise DatasetError(f"val_fraction must be in (0, 1), got {self.val_fraction}")
        if not 0.0 <= self.test_fraction < 1.0:
            raise DatasetError(f"test_fraction must be in [0, 1), got {self.test_fraction}")
        if isinstance(self.augmentation, str):
            object.__setattr__(self, "augmentation", tuple(a for a in self.augmentation.split(",") if a))
        elif not isinstance(self.augmentation, tuple):  # a list from YAML
            object.__setattr__(self, "augmentation", tuple(self.augmentation or ()))
        unknown = sorted(set(self.augmentation) - set(AUGMENTATIONS))
        if unknown:
            raise DatasetError(f"unknown augmentation {unknown}; choose from {list(AUGMENTATIONS)}")
        source = get_source(self.name)  # a DatasetError that lists the names for an unknown one
        if source.needs_data_dir and not self.data_dir and not self.name.startswith(FOLDER_PREFIX):
            raise DatasetError(f"dataset {self.name!r} needs data_dir ({source.description})")

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "data_dir": self.data_dir, "fraction": self.fraction,
                "val_fraction": self.val_fraction, "test_fraction": self.test_fraction,
                "seed": self.seed, "augmentation": list(self.augmentation)}


__all__ = ["AUGMENTATIONS", "DatasetConfig"]

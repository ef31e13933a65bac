"""The one small base every dataset source implements, and the arrays a source returns.

A source turns files (or a library's bundled data) into uint8 NHWC arrays plus integer labels; it
imports no TensorFlow. :mod:`evaluators.datasets.pipeline` turns those arrays into ``tf.data``
pipelines at an architecture's resolution and channel count. The shape follows Optuna's
``samplers/_base.py``: one small abstract base, implementations in their own modules, a registry
by name (:mod:`evaluators.datasets._registry`).
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np


@dataclass
class RawData:
    """Images as uint8 ``(N, H, W, C)`` and int labels; ``val_*`` / ``test_*`` are None unless predefined."""

    train_images: np.ndarray
    train_labels: np.ndarray
    class_names: tuple[str, ...]
    test_images: np.ndarray | None = None
    test_labels: np.ndarray | None = None
    info: dict[str, Any] = field(default_factory=dict)
    val_images: np.ndarray | None = None
    val_labels: np.ndarray | None = None


class DatasetSource(abc.ABC):
    """One named dataset: where its files are and how they become :class:`RawData`.

    ``channels`` is the channel count the source's images have (1 or 3), or None when it depends
    on the files (an image folder decodes to the channels asked for). ``needs_data_dir`` is true
    when there is no default location. A source returns the splits it has (``RawData.test_*`` for
    an official test split); :mod:`evaluators.datasets.pipeline` carves out the others.
    """

    name: ClassVar[str]
    description: ClassVar[str]
    channels: ClassVar[int | None]
    needs_data_dir: ClassVar[bool] = False

    @abc.abstractmethod
    def load(self, data_dir: Path | None, *, resolution: int, channels: int) -> RawData:
        """Read the source; ``data_dir`` overrides its default location.

        ``resolution`` and ``channels`` are hints: a source whose files have no fixed size (an image
        folder) decodes to them; others return their native size. Raises ``DatasetError``.
        """

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


__all__ = ["DatasetSource", "RawData"]

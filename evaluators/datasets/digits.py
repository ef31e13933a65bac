"""``digits``: scikit-learn's 8x8 handwritten digits (UCI optdigits, Alpaydin & Kaynak 1998), offline."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from evaluators.datasets._base import DatasetSource, RawData


class DigitsSource(DatasetSource):
    """1,797 grey 8x8 images, ten classes, bundled with scikit-learn (``load_digits``)."""

    name = "digits"
    description = "scikit-learn's 8x8 handwritten digits (1,797 images, offline)"
    channels = 1

    def load(self, data_dir: Path | None, *, resolution: int, channels: int) -> RawData:
        from sklearn.datasets import load_digits

        bunch = load_digits()
        # The pixels count 0..16 (4x4 blocks of a 32x32 bitmap): scaled to 0..255.
        images = np.round(bunch.images * (255.0 / 16.0)).astype(np.uint8)[..., None]
        return RawData(
            images, bunch.target.astype(np.int64), tuple(str(d) for d in range(10)),
            info={"source": "sklearn.datasets.load_digits"},
        )

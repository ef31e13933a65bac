"""``lfw-faces``: scikit-image's ``lfw_subset``, 100 face and 100 non-face 25x25 crops (a tiny person set)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from evaluators.datasets._base import DatasetSource, RawData


class LfwFacesSource(DatasetSource):
    """Labeled Faces in the Wild crops (Huang et al. 2007) as scikit-image ships them, offline."""

    name = "lfw-faces"
    description = "scikit-image's lfw_subset: 100 faces, 100 non-faces, 25x25 grey"
    channels = 1

    def load(self, data_dir: Path | None, *, resolution: int, channels: int) -> RawData:
        from skimage.data import lfw_subset

        images = np.round(lfw_subset() * 255.0).astype(np.uint8)[..., None]
        # The skimage docs: the first 100 images are faces, the last 100 are not.
        labels = np.array([1] * 100 + [0] * 100, dtype=np.int64)
        return RawData(images, labels, ("no_face", "face"), info={"source": "skimage.data.lfw_subset"})

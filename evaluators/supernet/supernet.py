"""A trained supernet loaded for scoring: check a subnet, run it, extract it into a standalone model."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from evaluators.supernet.layout import SupernetLayout
from evaluators.supernet.spec import SupernetError, SupernetSpec
from evaluators.supernet.store import MANIFEST_NAME, Manifest, read_manifest
from search_spaces.architecture import Architecture
from search_spaces.space import SearchSpace

__all__ = ["Supernet"]


class Supernet:
    """Weights of every subnet of a space (build it with :meth:`load` or :meth:`from_network`)."""

    def __init__(self, network: Any, spec: SupernetSpec, folder: Path | None = None,
                 manifest: Manifest | None = None) -> None:
        self.network = network
        self.layout: SupernetLayout = network.layout
        self.spec = spec
        self.folder = folder
        self.manifest = manifest

    @property
    def space(self) -> SearchSpace:
        return self.layout.space

    @classmethod
    def load(cls, out_dir: str | Path, *, space: SearchSpace, dataset_name: str) -> Supernet:
        """The finished supernet in ``out_dir``; refuses another space or dataset, an unfinished training,
        or a damaged folder with a one-line :class:`SupernetError`."""
        folder = Path(out_dir)
        manifest = read_manifest(folder)
        if manifest is None:
            raise SupernetError(f"{folder}: no {MANIFEST_NAME}; train a supernet there first")
        wanted = SupernetSpec.for_space(space, dataset_name)
        differences = manifest.spec.differences(wanted)
        if differences:
            raise SupernetError(f"supernet in {folder} was trained for another space or dataset (stored != requested): "
                                + "; ".join(differences))
        if not manifest.finished:
            raise SupernetError(f"supernet training in {folder} is unfinished ({manifest.epochs_done}/"
                                f"{manifest.config.epochs} epochs); run the training again on this folder to resume")
        from evaluators.supernet.network import SupernetNetwork
        from search_spaces.keras_backend import tf

        network = SupernetNetwork(SupernetLayout(space), seed=manifest.config.seed,
                                  bn_momentum=manifest.config.bn_momentum)
        prefix = folder / str(manifest.checkpoint)
        try:
            tf.train.Checkpoint(net=network).read(str(prefix)).expect_partial().assert_existing_objects_matched()
        except Exception as error:  # OpError, IndexError ("read less bytes"), AssertionError: all mean damaged
            raise SupernetError(f"{prefix}: cannot read the supernet checkpoint ({type(error).__name__}: "
                                f"{str(error).splitlines()[0][:200]})") from None
        return cls(network, manifest.spec, folder, manifest)

    # ----- subnets --------------------------------------------------------------------------
    def check(self, arch: Architecture) -> None:
        """Raise :class:`SupernetError` naming the choice if ``arch`` is not a subnet of this supernet."""
        self.layout.check(arch)

    def encode(self, arch: Architecture) -> tuple[int, ...]:
        return self.layout.encode(arch)

    def predict(self, arch: Architecture, images: np.ndarray) -> np.ndarray:
        """The supernet's inference-mode softmax outputs with ``arch`` active (moving BatchNorm statistics)."""
        return self.network.predict(images, self.encode(arch), arch.resolution).numpy()

    def weights_numpy(self) -> dict[str, np.ndarray]:
        return {name: variable.numpy() for name, variable in self.network.weights.items()}

    def extract(self, arch: Architecture, *, weights: dict[str, np.ndarray] | None = None) -> Any:
        """``search_spaces.builder.build_model(arch)`` with the subnet's weights (BatchNorm statistics
        included) copied in. Pass ``weights`` (from :meth:`weights_numpy`, or :meth:`recalibrated`) to skip
        reading the variables."""
        from evaluators.supernet.extract import subnet_arrays
        from search_spaces.builder import build_model

        self.check(arch)
        arrays = subnet_arrays(self.layout, weights if weights is not None else self.weights_numpy(), arch)
        model = build_model(arch, bn_momentum=self.network.bn_momentum)
        filled = set()
        for layer in model.layers:
            if not layer.weights:
                continue
            if layer.name not in arrays:
                raise SupernetError(f"no supernet weights for the builder's layer {layer.name!r} of {arch}")
            layer.set_weights(arrays[layer.name])
            filled.add(layer.name)
        unused = sorted(set(arrays) - filled)
        if unused:
            raise SupernetError(f"the builder's model of {arch} has no layer(s) {unused}")
        return model

    def recalibrated(self, arch: Architecture, images: np.ndarray, weights: dict[str, np.ndarray] | None = None,
                     *, batch_pixels: int | None = None) -> dict[str, np.ndarray]:
        """``weights`` with ``arch``'s BatchNorm moving statistics replaced by those of ``images``
        (:meth:`SupernetNetwork.batch_statistics`; the arrays of the layers ``arch`` uses are shortened to its
        channels, which is all :func:`subnet_arrays` reads of them). Nothing in the supernet changes."""
        self.check(arch)
        out = dict(weights if weights is not None else self.weights_numpy())
        extra = {} if batch_pixels is None else {"batch_pixels": batch_pixels}
        stats = self.network.batch_statistics(images, self.encode(arch), arch.resolution, **extra)
        for prefix, (mean, var) in stats.items():
            out[f"{prefix}_moving_mean"] = mean.astype(np.float32)
            out[f"{prefix}_moving_variance"] = var.astype(np.float32)
        return out

    def count_params(self, arch: Architecture) -> int:
        """Weights of ``arch``'s slice of the supernet (BatchNorm statistics included, as Keras counts)."""
        from evaluators.supernet.extract import subnet_arrays

        self.check(arch)
        arrays = subnet_arrays(self.layout, self.weights_numpy(), arch)
        return int(sum(a.size for values in arrays.values() for a in values))

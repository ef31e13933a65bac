"""Transfer learning for the MobileNetV2 baselines (Sandler et al., CVPR 2018).

As the source project did it: ImageNet weights, backbone frozen while the new classifier trains,
then the backbone unfrozen and fine-tuned at a lower learning rate (the Keras transfer-learning
guide's recipe). The weights come from a local file given by path: nothing is downloaded.
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evaluators.training import TrainConfig, TrainResult, fit

if TYPE_CHECKING:  # pragma: no cover
    from evaluators.datasets import Dataset

logger = logging.getLogger(__name__)

def build_mobilenet_v2_transfer(
    weights_path: str | Path | None,
    *,
    num_classes: int,
    resolution: int,
    alpha: float = 0.35,
    dropout: float = 0.2,
) -> Any:
    """``tf_keras.applications.MobileNetV2`` without its top, weights from ``weights_path``
    (a no-top ImageNet weights file, e.g. ``mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.35_96_no_top.h5``),
    plus dropout and a softmax classifier. Inputs are RGB in [-1, 1], what MobileNetV2 was trained on.
    ``weights_path=None`` gives random initial weights.
    """
    from search_spaces.keras_backend import keras

    if weights_path is not None:
        path = Path(weights_path).expanduser()
        if not path.is_file():
            raise FileNotFoundError(f"MobileNetV2 weights file not found: {path} (no download at run time)")
        weights_path = str(path)
    try:
        backbone = keras.applications.MobileNetV2(
            input_shape=(resolution, resolution, 3), alpha=alpha, include_top=False,
            weights=weights_path, pooling="avg",
        )
    except ValueError as exc:
        raise ValueError(f"cannot load MobileNetV2 alpha={alpha} weights from {weights_path}: {exc}") from exc
    inputs = keras.Input((resolution, resolution, 3))
    # training=False keeps BatchNorm statistics frozen, also once the backbone is unfrozen.
    features = backbone(inputs, training=False)
    features = keras.layers.Dropout(dropout)(features)
    outputs = keras.layers.Dense(num_classes, activation="softmax", name="classifier")(features)
    return keras.Model(inputs, outputs, name=f"mobilenet_v2_{alpha}_transfer")


def _backbone(model: Any) -> Any:
    from search_spaces.keras_backend import keras

    nested = [layer for layer in model.layers if isinstance(layer, keras.Model)]
    if len(nested) != 1:
        raise ValueError(f"expected one nested backbone model in {model.name}, found {len(nested)}")
    return nested[0]


def train_transfer(
    model: Any,
    dataset: Dataset,
    cfg: TrainConfig,
    *,
    head_epochs: int = 1,
    fine_tune_lr_factor: float = 0.1,
    fine_tune_from: int | None = None,
) -> TrainResult:
    """Train the classifier with the backbone frozen for ``head_epochs``, then fine-tune for
    ``cfg.epochs`` at ``cfg.lr * fine_tune_lr_factor`` with the backbone's layers from index
    ``fine_tune_from`` on trainable (all when None). Divergence is reported, never raised."""
    from search_spaces.keras_backend import keras

    start = time.perf_counter()
    keras.utils.set_random_seed(cfg.seed)
    backbone = _backbone(model)
    backbone.trainable = False
    head = fit(model, dataset, replace(cfg, bn_momentum=None), epochs=head_epochs)
    if head.diverged:
        head.details["phase"] = "head"
        return head
    backbone.trainable = True
    for layer in backbone.layers[: fine_tune_from or 0]:
        layer.trainable = False
    tuned = fit(model, dataset, cfg, lr=cfg.lr * fine_tune_lr_factor)
    history = {f"head_{key}": values for key, values in head.history.items()}
    history.update({f"fine_tune_{key}": values for key, values in tuned.history.items()})
    return TrainResult(
        history=history, val_accuracy=tuned.val_accuracy, val_loss=tuned.val_loss,
        seconds=time.perf_counter() - start, epochs_completed=head.epochs_completed + tuned.epochs_completed,
        diverged=tuned.diverged, divergence_reason=tuned.divergence_reason,
        details={"head_val_accuracy": head.val_accuracy, "head_epochs": head_epochs,
                 "fine_tune_epochs": cfg.epochs, "fine_tune_lr": cfg.lr * fine_tune_lr_factor},
    )


__all__ = ["build_mobilenet_v2_transfer", "train_transfer"]

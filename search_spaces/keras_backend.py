"""The one place that decides which Keras builds our models.

tensorflow-model-optimization (QAT) only accepts Keras 2 models, so every model in this project is
built with ``tf_keras`` (Keras 2), never with ``import keras`` (Keras 3). ``TF_USE_LEGACY_KERAS=1``
must be set before TensorFlow is first imported so that ``tf.keras`` resolves to ``tf_keras`` too
(TensorFlow >= 2.16 release notes). Import ``tf`` and ``keras`` from here and nowhere else.
"""

from __future__ import annotations

import os
import sys

if "tensorflow" in sys.modules and os.environ.get("TF_USE_LEGACY_KERAS") != "1":
    raise ImportError(
        "TensorFlow was imported before search_spaces.keras_backend set TF_USE_LEGACY_KERAS=1; "
        "import search_spaces.keras_backend (or set TF_USE_LEGACY_KERAS=1) before tensorflow."
    )
os.environ["TF_USE_LEGACY_KERAS"] = "1"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf  # noqa: E402
import tf_keras as keras  # noqa: E402

__all__ = ["tf", "keras"]

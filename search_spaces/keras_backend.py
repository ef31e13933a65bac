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

__all__ = ["tf", "keras", "import_keras_tuner"]


def import_keras_tuner():
    """``keras_tuner`` bound to tf_keras (Keras 2), never to Keras 3.

    KerasTuner 1.4 imports ``keras`` to pick its backend, which would load Keras 3 beside our Keras 2.
    While it is imported, ``keras`` is aliased to ``tf_keras`` (which has no ``keras.version()``, so
    KerasTuner takes its Keras 2 path); the alias is removed afterwards. Import it only through here.
    """
    if "keras_tuner" not in sys.modules:
        saved = sys.modules.get("keras")
        sys.modules["keras"] = keras
        try:
            import keras_tuner  # noqa: F401
        finally:
            if saved is None:
                sys.modules.pop("keras", None)
            else:
                sys.modules["keras"] = saved
    from keras_tuner.src.backend import config as kt_backend

    if kt_backend.multi_backend():
        raise ImportError("keras_tuner was imported on Keras 3 before search_spaces.keras_backend could bind it "
                          "to tf_keras; import it with search_spaces.keras_backend.import_keras_tuner()")
    return sys.modules["keras_tuner"]

"""Keras 2 must be chosen before anything (keras_tuner, ray) imports TensorFlow."""

import search_spaces.keras_backend  # noqa: F401

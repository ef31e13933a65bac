"""Quantization-aware training models for every layer the builder uses (tensorflow-model-optimization).

``tfmot.quantization.keras.quantize_model`` knows only the layers of its ``Default8BitQuantizeRegistry``
and raises on the rest; the builder's squeeze-excite gate (Hu et al. 2018) and hard-swish (Howard et
al. 2019) use ``Multiply`` and ``Rescaling``, which it lacks. tfmot's documented way out
(``quantize_annotate_layer`` with a custom ``QuantizeConfig``, then ``quantize_apply`` inside
``quantize_scope``) is used here:

- layers the registry supports keep tfmot's default config (Conv2D + BatchNorm folding, ReLU fusion,
  Add, pooling, Dense, ``Activation`` swish / sigmoid ...);
- a hard-swish ``x * relu6(x + 3) / 6`` written as ``Rescaling(offset=3) -> ReLU(6) -> Rescaling(1/6)
  -> Multiply`` gets fake quantization on its output only, none inside, so the TFLite converter
  still fuses it into one int8 ``HARD_SWISH`` as it does for post-training quantization;
- any other ``Multiply`` / ``Rescaling`` / ``Activation`` the registry cannot quantize gets output
  fake quantization (8-bit asymmetric moving-average, the quantizer tfmot uses for ``Add``), which
  is where TFLite's int8 kernels requantize;
- anything else unsupported (``Lambda``, ``TFOpLambda`` such as ``x + 3.0``, nested models) raises
  :class:`~evaluators.errors.ConversionError` naming the layer.
"""

from __future__ import annotations

import math
from typing import Any

import tensorflow_model_optimization as tfmot

from evaluators.errors import ConversionError
from search_spaces.keras_backend import keras, tf  # noqa: F401  (selects Keras 2 before tfmot loads)

_tfmot_keras = tfmot.quantization.keras

__all__ = ["NoQuantizeConfig", "OutputQuantizeConfig", "annotate_for_qat", "hard_swish_layers",
           "quantize_for_training"]


class OutputQuantizeConfig(_tfmot_keras.QuantizeConfig):
    """Fake-quantize a weightless layer's output only (8-bit asymmetric, moving-average range)."""

    def get_weights_and_quantizers(self, layer: Any) -> list:
        return []

    def get_activations_and_quantizers(self, layer: Any) -> list:
        return []

    def set_quantize_weights(self, layer: Any, quantize_weights: list) -> None:
        pass

    def set_quantize_activations(self, layer: Any, quantize_activations: list) -> None:
        pass

    def get_output_quantizers(self, layer: Any) -> list:
        return [_tfmot_keras.quantizers.MovingAverageQuantizer(
            num_bits=8, per_axis=False, symmetric=False, narrow_range=False)]

    def get_config(self) -> dict[str, Any]:
        return {}


class NoQuantizeConfig(OutputQuantizeConfig):
    """No fake quantization: the layer is inside an op TFLite fuses (here, hard-swish)."""

    def get_output_quantizers(self, layer: Any) -> list:
        return []


_CUSTOM_OBJECTS = {"OutputQuantizeConfig": OutputQuantizeConfig, "NoQuantizeConfig": NoQuantizeConfig}
# Weightless layers whose int8 TFLite kernels requantize their output: output fake quantization suffices.
_OUTPUT_ONLY_TYPES = (keras.layers.Multiply, keras.layers.Rescaling, keras.layers.Activation)


def _inbound_layers(layer: Any) -> list[Any]:
    nodes = layer.inbound_nodes
    if len(nodes) != 1:
        return []
    return tf.nest.flatten(nodes[0].inbound_layers)


def _is_rescaling(layer: Any, scale: float, offset: float) -> bool:
    return (isinstance(layer, keras.layers.Rescaling)
            and math.isclose(float(layer.scale), scale, rel_tol=1e-6)
            and math.isclose(float(layer.offset), offset, abs_tol=1e-6))


def hard_swish_layers(model: Any) -> dict[str, list[str]]:
    """Hard-swish subgraphs ``x * (relu6(x + 3) / 6)``: output ``Multiply`` name -> its inner layer names."""
    found: dict[str, list[str]] = {}
    for layer in model.layers:
        if not isinstance(layer, keras.layers.Multiply):
            continue
        inputs = _inbound_layers(layer)
        if len(inputs) != 2:
            continue
        for x_layer, gate in (inputs, inputs[::-1]):
            if not _is_rescaling(gate, 1.0 / 6.0, 0.0):
                continue
            relu = _inbound_layers(gate)
            if len(relu) != 1 or not isinstance(relu[0], keras.layers.ReLU) or relu[0].max_value != 6.0:
                continue
            shift = _inbound_layers(relu[0])
            if len(shift) != 1 or not _is_rescaling(shift[0], 1.0, 3.0):
                continue
            if _inbound_layers(shift[0]) == [x_layer]:
                found[layer.name] = [shift[0].name, relu[0].name, gate.name]
                break
    return found


def _registry_config_works(registry: Any, layer: Any) -> bool:
    if not registry.supports(layer):
        return False
    try:  # Activation is "supported" as a type, but only for some activation functions.
        registry.get_quantize_config(layer).get_output_quantizers(layer)
    except (ValueError, RuntimeError):
        return False
    return True


def _quantize_configs(model: Any) -> dict[str, Any]:
    """Layer name -> custom ``QuantizeConfig``; layers absent use tfmot's registry default."""
    registry = _tfmot_keras.default_8bit.Default8BitQuantizeRegistry()
    configs: dict[str, Any] = {}
    for output, inner in hard_swish_layers(model).items():
        configs[output] = OutputQuantizeConfig()
        configs.update({name: NoQuantizeConfig() for name in inner})
    for layer in model.layers:
        if layer.name in configs or isinstance(layer, keras.layers.InputLayer):
            continue
        if isinstance(layer, keras.Model):
            raise ConversionError(f"quantization-aware training: layer {layer.name!r} is a nested model; "
                                  "tfmot needs a flat functional model")
        # TFOpLambda (what `x + 3.0` on a Keras tensor becomes) is private to tf_keras: match its name.
        if isinstance(layer, keras.layers.Lambda) or type(layer).__name__ == "TFOpLambda":
            raise ConversionError(
                f"quantization-aware training: layer {layer.name!r} ({type(layer).__name__}) cannot be "
                "annotated by tfmot; build the model from Keras layers (no Lambda, no tensor operators "
                "such as `x + 3.0`)")
        if isinstance(layer, _OUTPUT_ONLY_TYPES) and not _registry_config_works(registry, layer):
            configs[layer.name] = OutputQuantizeConfig()
        # Everything else is left to tfmot, whose transforms also cover layers its registry lacks
        # (BatchNormalization after a convolution); quantize_apply names any layer it cannot handle.
    return configs


def annotate_for_qat(model: Any) -> Any:
    """A copy of ``model`` with every layer wrapped in ``QuantizeAnnotate`` (custom configs where needed)."""
    if not getattr(model, "_is_graph_network", False):
        raise ConversionError("quantization-aware training needs a functional or Sequential Keras model")
    configs = _quantize_configs(model)

    def annotate(layer: Any) -> Any:
        return _tfmot_keras.quantize_annotate_layer(layer, quantize_config=configs.get(layer.name))

    return keras.models.clone_model(model, clone_function=annotate)


def quantize_for_training(model: Any) -> Any:
    """``model`` with tfmot fake-quantization (default 8-bit scheme), weights copied, not compiled."""
    annotated = annotate_for_qat(model)
    try:
        with _tfmot_keras.quantize_scope(_CUSTOM_OBJECTS):
            return _tfmot_keras.quantize_apply(annotated)
    except Exception as exc:  # tfmot raises ValueError, RuntimeError, AttributeError ... for what it lacks
        raise ConversionError(f"tfmot quantize_apply failed: {exc}") from exc

"""Build a ``tf_keras`` functional model from an :class:`Architecture`.

The only module of the project that creates Keras layers for architectures. Blocks:

* MBConv, the inverted residual of MobileNetV2 (Sandler et al. 2018): 1x1 expand (skipped at
  expansion 1), kxk depthwise at the stage stride, optional squeeze-excite (Hu et al. 2018), linear
  1x1 project.
* Fused-MBConv (Gupta & Tan 2019, EfficientNet-EdgeTPU; Tan & Le 2021, EfficientNetV2): kxk full
  convolution expand at the stage stride, optional squeeze-excite, linear 1x1 project; at expansion
  1 a single kxk convolution with BatchNorm and activation.

Every convolution is bias-free and followed by BatchNorm (epsilon 1e-3, momentum configurable:
0.9 suits short proxy training, where 0.999 leaves the moving statistics near their start).
Squeeze-excite reduces with the block activation and gates with a sigmoid, both 1x1 convolutions
with bias. A block adds its input back when the residual rule of the stage allows it (see
:data:`search_spaces.architecture.SKIP_MODES`). Strides adapt to small inputs through
:func:`search_spaces.architecture.effective_strides`. The input is float32 NHWC already scaled to
[-1, 1]; the output is softmax probabilities.
"""

from __future__ import annotations

from search_spaces.architecture import Architecture, StageSpec
from search_spaces.cost import block_layout, se_channels
from search_spaces.keras_backend import keras

__all__ = ["build_model"]

_BN_EPSILON = 1e-3


class _Layers:
    """Layer factory holding the BatchNorm settings, so blocks stay short."""

    def __init__(self, bn_momentum: float) -> None:
        self.bn_momentum = bn_momentum

    def conv(self, x, filters: int, kernel: int, stride: int, name: str):
        return keras.layers.Conv2D(
            filters,
            kernel,
            strides=stride,
            padding="same",
            use_bias=False,
            kernel_initializer="he_normal",
            name=name,
        )(x)

    def depthwise(self, x, kernel: int, stride: int, name: str):
        return keras.layers.DepthwiseConv2D(
            kernel,
            strides=stride,
            padding="same",
            use_bias=False,
            depthwise_initializer="he_normal",
            name=name,
        )(x)

    def bn(self, x, name: str):
        return keras.layers.BatchNormalization(
            momentum=self.bn_momentum, epsilon=_BN_EPSILON, name=name
        )(x)

    @staticmethod
    def act(x, activation: str, name: str):
        if activation == "relu6":
            return keras.layers.ReLU(6.0, name=name)(x)
        if activation == "swish":
            return keras.layers.Activation("swish", name=name)(x)
        if activation == "hswish":
            # x * relu6(x + 3) / 6 (Howard et al. 2019), written so the TFLite converter fuses it
            # into HARD_SWISH. Keras layers (Rescaling) rather than `x + 3.0` operators, whose
            # TFOpLambda layers tfmot cannot annotate for quantization-aware training.
            shifted = keras.layers.Rescaling(1.0, offset=3.0, name=f"{name}_plus3")(x)
            gate = keras.layers.ReLU(6.0, name=f"{name}_relu6")(shifted)
            gate = keras.layers.Rescaling(1.0 / 6.0, name=f"{name}_div6")(gate)
            return keras.layers.Multiply(name=name)([x, gate])
        raise ValueError(f"unknown activation {activation!r}")

    def conv_bn_act(self, x, filters: int, kernel: int, stride: int, activation: str, name: str):
        x = self.conv(x, filters, kernel, stride, f"{name}_conv")
        x = self.bn(x, f"{name}_bn")
        return self.act(x, activation, f"{name}_{activation}")

    def squeeze_excite(self, x, channels: int, reduced: int, activation: str, name: str):
        s = keras.layers.GlobalAveragePooling2D(keepdims=True, name=f"{name}_pool")(x)
        s = keras.layers.Conv2D(reduced, 1, name=f"{name}_reduce")(s)
        s = self.act(s, activation, f"{name}_{activation}")
        s = keras.layers.Conv2D(channels, 1, activation="sigmoid", name=f"{name}_expand")(s)
        return keras.layers.Multiply(name=f"{name}_excite")([x, s])


def _has_residual(stage: StageSpec, block_index: int, in_channels: int) -> bool:
    """Residual rule: nominal stride 1 and unchanged channels, unless the stage says ``none``."""
    if stage.skip == "none":
        return False
    nominal_stride = stage.stride if block_index == 0 else 1
    return nominal_stride == 1 and in_channels == stage.channels


def _block(layers: _Layers, x, stage: StageSpec, in_channels: int, stride: int, name: str):
    hidden = in_channels * stage.expansion
    act = stage.activation
    se = se_channels(in_channels, stage.se_ratio) if stage.se_ratio else 0
    if stage.block == "mbconv":
        y = x
        if stage.expansion != 1:
            y = layers.conv_bn_act(y, hidden, 1, 1, act, f"{name}_expand")
        y = layers.depthwise(y, stage.kernel, stride, f"{name}_dw")
        y = layers.bn(y, f"{name}_dw_bn")
        y = layers.act(y, act, f"{name}_dw_{act}")
        if se:
            y = layers.squeeze_excite(y, hidden, se, act, f"{name}_se")
        y = layers.conv(y, stage.channels, 1, 1, f"{name}_project")
        y = layers.bn(y, f"{name}_project_bn")
    elif stage.expansion == 1:  # fused, single kxk conv
        y = layers.conv_bn_act(x, stage.channels, stage.kernel, stride, act, f"{name}_fused")
        if se:
            y = layers.squeeze_excite(y, stage.channels, se, act, f"{name}_se")
    else:  # fused, kxk expand + linear 1x1 project
        y = layers.conv_bn_act(x, hidden, stage.kernel, stride, act, f"{name}_fused")
        if se:
            y = layers.squeeze_excite(y, hidden, se, act, f"{name}_se")
        y = layers.conv(y, stage.channels, 1, 1, f"{name}_project")
        y = layers.bn(y, f"{name}_project_bn")
    return y


def build_model(
    arch: Architecture, *, bn_momentum: float = 0.9, name: str = "edge_nas"
) -> keras.Model:
    """A ``tf_keras`` functional model for ``arch`` (float32 input in [-1, 1], softmax output).

    ``bn_momentum`` is the BatchNorm moving-average momentum (Keras convention: weight of the old
    value). Parameter count equals :func:`search_spaces.cost.arch_cost` ``.params``.
    """
    if not isinstance(arch, Architecture):
        raise TypeError(f"build_model expects an Architecture, got {type(arch).__name__}")
    if not 0.0 <= bn_momentum < 1.0:
        raise ValueError(f"bn_momentum must be in [0, 1), got {bn_momentum}")
    layers = _Layers(bn_momentum)
    inputs = keras.Input(shape=(arch.resolution, arch.resolution, arch.channels), name="image")
    stem = arch.stem
    x = layers.conv_bn_act(inputs, stem.channels, stem.kernel, stem.stride, stem.activation, "stem")
    for stage_index, block_index, in_channels, stride in block_layout(arch):
        stage = arch.stages[stage_index]
        block_name = f"stage{stage_index + 1}_block{block_index + 1}"
        y = _block(layers, x, stage, in_channels, stride, block_name)
        if _has_residual(stage, block_index, in_channels):
            y = keras.layers.Add(name=f"{block_name}_add")([x, y])
        x = y
    head = arch.head
    x = layers.conv_bn_act(x, head.channels, 1, 1, head.activation, "head")
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    if head.dropout:
        x = keras.layers.Dropout(head.dropout, name="dropout")(x)
    outputs = keras.layers.Dense(arch.num_classes, activation="softmax", name="classifier")(x)
    return keras.Model(inputs, outputs, name=name)

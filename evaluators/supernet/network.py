"""The supernet's weights and its forward pass for any encoded subnet (TensorFlow).

The subnet arrives as a tuple of integers (:meth:`SupernetLayout.encode`). Weights are sliced inside the
forward pass (first channels, centre of the kernel), as Once-for-All (Cai et al. 2020) does in PyTorch.
Depth, block type, squeeze-excite, activation and the first block's residual pick, in Python, which
block function runs; each block function is traced once with its sizes (kernel, channels) as int32
tensors, so no subnet triggers a new trace and eager dispatch costs one call per block. (A single
traced step holding every choice as ``tf.switch_case`` took minutes to trace, and nested ``tf.cond``
gradients failed in cond_v2.) Layer arithmetic matches
:mod:`search_spaces.builder` (SAME padding, BatchNorm epsilon 1e-3, squeeze-excite with bias), so an
extracted standalone model computes the same function.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from evaluators.supernet.layout import Branch, ParamSpec, SlotLayout, StageLayout, SupernetLayout, block_prefix
from search_spaces.keras_backend import keras, tf

__all__ = ["SupernetNetwork"]

_BN_EPSILON = 1e-3
# Input pixels per BatchNorm recalibration batch: 512 images at 32 px, 56 at 96 px, 10 at 224 px.
BN_BATCH_PIXELS = 2**19


def _activation(x: Any, name: str) -> Any:
    if name == "relu6":
        return tf.nn.relu6(x)
    if name == "swish":
        return tf.nn.silu(x)
    # hswish as the builder writes it: x * (relu6(x + 3) * (1 / 6)).
    return x * (tf.nn.relu6(x * 1.0 + 3.0) * (1.0 / 6.0))


def _centre(weight: Any, kernel: Any, c_in: Any, c_out: Any) -> Any:
    """The centred ``kernel`` x ``kernel`` window and the first ``c_in`` / ``c_out`` channels."""
    k_max = int(weight.shape[0])
    if k_max == 1:
        return weight[:, :, :c_in, :c_out]
    offset = (k_max - kernel) // 2
    return tf.slice(weight, [offset, offset, 0, 0], [kernel, kernel, c_in, c_out])


class SupernetNetwork(tf.Module):
    """All supernet variables (by :class:`ParamSpec` name) and the forward pass."""

    def __init__(self, layout: SupernetLayout, *, seed: int = 0, bn_momentum: float = 0.9) -> None:
        super().__init__(name="supernet")
        self.layout = layout
        self.bn_momentum = bn_momentum
        self.weights: dict[str, tf.Variable] = {}
        for index, spec in enumerate(layout.param_specs()):
            self.weights[spec.name] = tf.Variable(_initial(spec, seed + index), trainable=spec.trainable,
                                                  name=spec.name)
        self._strides = {r: layout.strides(r) for r in layout.space.resolution}
        self._traced = _Traced()  # a plain object: tf.Module would try to checkpoint a dict of functions
        self.compile_blocks = True

    @property
    def trainable(self) -> list[tf.Variable]:
        return [v for v in self.weights.values() if v.trainable]

    # ----- layers ---------------------------------------------------------------------------
    def _bn(self, x: Any, prefix: str, channels: Any, training: bool, stats: dict | None = None) -> Any:
        """BatchNorm of the first ``channels``. ``stats`` (a dict) switches training mode to recording: each
        layer normalizes with its batch statistics and stores them under its prefix, moving ones untouched."""
        w = self.weights
        gamma, beta = w[f"{prefix}_gamma"][:channels], w[f"{prefix}_beta"][:channels]
        moving_mean, moving_var = w[f"{prefix}_moving_mean"], w[f"{prefix}_moving_variance"]
        if training:
            mean, var = tf.nn.moments(x, [0, 1, 2])
            if stats is not None:
                stats[prefix] = (mean, var)
            else:
                m = self.bn_momentum
                for variable, batch in ((moving_mean, mean), (moving_var, var)):
                    batch = tf.stop_gradient(batch)
                    variable.assign(tf.concat([variable[:channels] * m + batch * (1.0 - m), variable[channels:]], 0))
        else:
            mean, var = moving_mean[:channels], moving_var[:channels]
        return tf.nn.batch_normalization(x, mean, var, beta, gamma, _BN_EPSILON)

    def _conv(self, x: Any, name: str, kernel: Any, c_in: Any, c_out: Any, stride: int) -> Any:
        return tf.nn.conv2d(x, _centre(self.weights[name], kernel, c_in, c_out), stride, "SAME")

    def _depthwise(self, x: Any, name: str, kernel: Any, channels: Any, stride: int) -> Any:
        return tf.nn.depthwise_conv2d(x, _centre(self.weights[name], kernel, channels, 1), [1, stride, stride, 1],
                                      "SAME")

    def _squeeze_excite(self, x: Any, prefix: str, channels: Any, reduced: Any, act: Callable[[Any], Any]) -> Any:
        w = self.weights
        s = tf.reduce_mean(x, [1, 2], keepdims=True)
        s = tf.nn.conv2d(s, w[f"{prefix}_se_reduce_kernel"][:, :, :channels, :reduced], 1, "SAME")
        s = act(tf.nn.bias_add(s, w[f"{prefix}_se_reduce_bias"][:reduced]))
        s = tf.nn.conv2d(s, w[f"{prefix}_se_expand_kernel"][:, :, :reduced, :channels], 1, "SAME")
        s = tf.sigmoid(tf.nn.bias_add(s, w[f"{prefix}_se_expand_bias"][:channels]))
        return x * s

    def _block(self, x: Any, dims: Sequence[Any], stage: StageLayout, slot: SlotLayout, branch: Branch,
               stride: int, training: bool, stats: dict | None = None) -> Any:
        """One block; ``dims`` is (kernel, in, hidden, squeeze-excite and out channels)."""
        kernel, c_in, hidden, reduced, c_out = dims
        variant = branch.variant

        def act(t: Any) -> Any:
            return _activation(t, branch.activation)

        p = block_prefix(stage, slot, variant)
        y = x
        if variant == "ir":
            y = act(self._bn(self._conv(y, f"{p}_expand_kernel", 1, c_in, hidden, 1), f"{p}_expand_bn", hidden,
                             training, stats))
        if variant in ("ir", "ir1"):
            y = act(self._bn(self._depthwise(y, f"{p}_dw_kernel", kernel, hidden, stride), f"{p}_dw_bn", hidden,
                             training, stats))
        else:
            y = act(self._bn(self._conv(y, f"{p}_fused_kernel", kernel, c_in, hidden, stride), f"{p}_fused_bn",
                             hidden, training, stats))
        if branch.se:
            y = self._squeeze_excite(y, p, hidden, reduced, act)
        if variant != "er1":
            y = self._bn(self._conv(y, f"{p}_project_kernel", 1, hidden, c_out, 1), f"{p}_project_bn", c_out,
                         training, stats)
        return x + y if branch.residual else y

    def _compiled_block(self, key: tuple) -> Any:
        """The block traced once with its sizes as int32 scalars: eager training then costs one function
        call per block instead of one Python dispatch per operation, and nothing is traced per subnet."""
        functions = self._traced.blocks
        if key not in functions:
            number, index, branch, stride, training = key
            stage = self.layout.stages[number - 1]
            slot = stage.slots[index]
            spec = [tf.TensorSpec([None, None, None, None], tf.float32), [tf.TensorSpec([], tf.int32)] * 5]
            functions[key] = tf.function(
                lambda x, dims: self._block(x, dims, stage, slot, branch, stride, training),
                input_signature=spec, autograph=False)
        return functions[key]

    def _stage(self, x: Any, code: Sequence[int], stage: StageLayout, stride: int, training: bool,
               stats: dict | None = None) -> Any:
        """The stage's blocks; recording ``stats`` runs them eagerly (a few large batches: dispatch is cheap
        there, and nothing is traced)."""
        base = self.layout.stage_offset(stage)
        for slot in stage.slots:
            at = self.layout.slot_offset(base, slot.index)
            branch = stage.branches(slot.index)[code[at]]
            if branch is None:  # beyond the subnet's depth: this and the later blocks are skipped
                break
            dims = (code[base], code[at + 1], code[at + 2], code[at + 3], code[base + 1])
            slot_stride = stride if slot.index == 0 else 1
            if self.compile_blocks and stats is None:
                block = self._compiled_block((stage.number, slot.index, branch, slot_stride, training))
                x = block(x, [tf.constant(d, tf.int32) for d in dims])
            else:
                x = self._block(x, dims, stage, slot, branch, slot_stride, training, stats)
        return x

    def _features(self, images: Any, code: Any, resolution: int, training: bool, stats: dict | None = None) -> Any:
        """The head's activations (before pooling) of the subnet ``code``."""
        space, layout = self.layout.space, self.layout
        x = self._conv(images, "stem_conv_kernel", space.stem.kernel, space.channels, code[0], space.stem.stride)
        x = _activation(self._bn(x, "stem_bn", code[0], training, stats), space.stem.activation)
        for stage, stride in zip(layout.stages, self._strides[resolution]):
            x = self._stage(x, code, stage, stride, training, stats)
        last = layout.stage_offset(layout.stages[-1]) + 1
        x = self._conv(x, "head_conv_kernel", 1, code[last], code[1], 1)
        return _activation(self._bn(x, "head_bn", code[1], training, stats), space.head.activation)

    def forward(self, images: Any, code: Any, resolution: int, training: bool) -> Any:
        """Softmax outputs of the subnet ``code`` on ``images`` (already at ``resolution``)."""
        space = self.layout.space
        x = tf.reduce_mean(self._features(images, code, resolution, training), [1, 2])
        if training and space.head.dropout:
            x = tf.nn.dropout(x, space.head.dropout)
        logits = tf.matmul(x, self.weights["classifier_kernel"][: code[1]]) + self.weights["classifier_bias"]
        return tf.nn.softmax(logits)

    def batch_statistics(self, images: Any, code: Sequence[int], resolution: int, *,
                         batch_pixels: int = BN_BATCH_PIXELS) -> dict[str, tuple[Any, Any]]:
        """``{BatchNorm prefix: (mean, variance)}`` of the subnet ``code`` on ``images``, for recalibration.

        As Once-for-All's ``set_running_statistics`` (Cai et al. 2020): training mode, so every BatchNorm
        normalizes with its batch's statistics, and each layer's result is the batch-size-weighted average
        of its batch means and (biased) batch variances. No variable changes. Batches hold as many images as
        fit in ``batch_pixels`` input pixels, so 500 images at 32 px are one batch: the statistics of the
        whole set, and a fifth of the eager dispatches of 100-image batches (1.35 s against 2.65 s measured
        on 7 Dec for the same 500 images)."""
        batch_size = max(1, batch_pixels // (resolution * resolution))
        sums: dict[str, list] = {}
        total = 0
        for start in range(0, len(images), batch_size):
            batch = tf.convert_to_tensor(images[start:start + batch_size], tf.float32)
            stats: dict = {}
            self._features(batch, tuple(code), resolution, True, stats)
            n = int(batch.shape[0])
            for prefix, (mean, var) in stats.items():
                acc = sums.setdefault(prefix, [0.0, 0.0])
                acc[0] = acc[0] + mean.numpy().astype(np.float64) * n
                acc[1] = acc[1] + var.numpy().astype(np.float64) * n
            total += n
        return {prefix: (mean / total, var / total) for prefix, (mean, var) in sums.items()}

    def predict(self, images: Any, code: Sequence[int], resolution: int) -> Any:
        """Inference-mode outputs (moving BatchNorm statistics) of the subnet ``code``, by the training path."""
        return self.forward(tf.convert_to_tensor(images, tf.float32), tuple(code), resolution, False)


class _Traced:
    """Traced block functions by (stage number, slot index, branch, stride, training)."""

    def __init__(self) -> None:
        self.blocks: dict[tuple, Any] = {}


def _initial(spec: ParamSpec, seed: int) -> Any:
    if spec.init == "zeros":
        return tf.zeros(spec.shape)
    if spec.init == "ones":
        return tf.ones(spec.shape)
    initializer = keras.initializers.HeNormal(seed) if spec.init == "he" else keras.initializers.GlorotUniform(seed)
    return initializer(spec.shape)

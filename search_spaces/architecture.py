"""Architectures as frozen, validated values with a stable string form and a JSON form.

An :class:`Architecture` is an input (resolution, channels), a stem convolution, a tuple of stages of
MBConv (inverted residual, Sandler et al. 2018, "MobileNetV2") or Fused-MBConv blocks (Gupta & Tan
2019, "EfficientNet-EdgeTPU"; Tan & Le 2021, "EfficientNetV2"), a head (last 1x1 conv, dropout) and a
number of classes. Stored trials and exported models carry the string form, so it is stable.

String grammar (tokens of one part are joined by ``_``, parts by ``-``; floats are written in the
shortest decimal form that reads back to the same float, without exponent)::

    arch   := input "-" stem ("-" stage)+ "-" head "-" classes
    input  := "in" RESOLUTION "x" CHANNELS                      e.g. in224x3
    stem   := "stem_c" CH "_k" K "_s" S "_" ACT                 e.g. stem_c32_k3_s2_relu6
    stage  := TYPE "_r" REPEATS "_k" K "_s" S "_e" EXPANSION "_c" CH
              ["_se" RATIO] ["_noskip" | "_skipall"] "_" ACT     e.g. ir_r2_k3_s2_e6_c24_relu6
    head   := "head_c" CH ["_d" DROPOUT] "_" ACT                e.g. head_c1280_d0.2_swish
    classes:= "cls" N                                           e.g. cls1000
    TYPE   := "ir" (mbconv) | "er" (fused_mbconv)               as in timm's efficientnet builder
    ACT    := "relu6" | "hswish" | "swish"

``to_string`` always writes this canonical order; ``from_string`` also accepts the optional stage
tokens in any order after the type, and omitted ``_se`` / ``_d`` mean 0.

Rules checked on construction (:class:`ArchitectureError` names the stage and the field):
sizes are positive, kernels odd, strides 1 or 2, stem / stage / head channels divisible by
:data:`CHANNEL_DIVISOR`, ratios in range, ``skip="all"`` only where every block can keep its shape,
and the input must leave at least :data:`MIN_FEATURE_PX` pixels after the stem.

Strides for small inputs: the stem stride is fixed; a stage's stride 2 is kept only while the feature
map after it stays at least :data:`MIN_FEATURE_PX` pixels, otherwise that stage runs at stride 1
(so the latest stride-2 stages are the ones dropped). :func:`effective_strides` is the one place
this is decided; the builder and :func:`search_spaces.cost.arch_cost` both use it. MobileNetV2 keeps
all its strides at 96 px and above (224 px ends at 7x7, 96 px at 3x3); at 32 px it ends at 4x4
instead of 1x1, at 64 px at 4x4 instead of 2x2.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

__all__ = [
    "ACTIVATIONS",
    "BLOCK_TYPES",
    "CHANNEL_DIVISOR",
    "FORMAT_VERSION",
    "MIN_FEATURE_PX",
    "SKIP_MODES",
    "Architecture",
    "ArchitectureError",
    "HeadSpec",
    "StageSpec",
    "StemSpec",
    "effective_strides",
    "feature_sizes",
]

BLOCK_TYPES: tuple[str, ...] = ("mbconv", "fused_mbconv")
ACTIVATIONS: tuple[str, ...] = ("relu6", "hswish", "swish")
# "auto": residual where the block keeps its shape (nominal stride 1, same channels);
# "none": no residuals (timm's noskip); "all": every block, the first included, must have one.
SKIP_MODES: tuple[str, ...] = ("auto", "none", "all")
# Output channels of stem, stages and head are multiples of 8, as MobileNetV2's _make_divisible
# produces; it also keeps int8 kernels on whole SIMD lanes.
CHANNEL_DIVISOR = 8
# Smallest feature map (pixels per side) a stride-2 stage may produce before its stride is dropped.
# 3 keeps MobileNetV2's strides at all of its published input sizes (96, 128, 160, 192, 224 px).
MIN_FEATURE_PX = 3
FORMAT_VERSION = 1

_TYPE_TOKENS = {"ir": "mbconv", "er": "fused_mbconv"}
_TOKEN_OF_TYPE = {v: k for k, v in _TYPE_TOKENS.items()}
_SKIP_TOKENS = {"noskip": "none", "skipall": "all"}
_TOKEN_OF_SKIP = {v: k for k, v in _SKIP_TOKENS.items()}


class ArchitectureError(ValueError):
    """An architecture (or its string / JSON form) is invalid; the message names the field."""


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _check_positive_int(where: str, field: str, value: Any) -> None:
    if not _is_int(value) or value <= 0:
        raise ArchitectureError(f"{where}: {field} must be a positive integer, got {value!r}")


def _check_kernel(where: str, value: Any) -> None:
    _check_positive_int(where, "kernel", value)
    if value % 2 == 0:
        raise ArchitectureError(f"{where}: kernel must be odd, got {value}")


def _check_stride(where: str, value: Any) -> None:
    if not _is_int(value) or value not in (1, 2):
        raise ArchitectureError(f"{where}: stride must be 1 or 2, got {value!r}")


def _check_channels(where: str, value: Any) -> None:
    _check_positive_int(where, "channels", value)
    if value % CHANNEL_DIVISOR:
        raise ArchitectureError(
            f"{where}: channels must be divisible by {CHANNEL_DIVISOR}, got {value}"
        )


def _check_activation(where: str, value: Any) -> None:
    if value not in ACTIVATIONS:
        raise ArchitectureError(
            f"{where}: activation must be one of {', '.join(ACTIVATIONS)}, got {value!r}"
        )


def _format_float(value: float) -> str:
    """Shortest round-tripping decimal, never in exponent notation (``-`` separates parts)."""
    text = format(Decimal(repr(float(value))), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


@dataclasses.dataclass(frozen=True)
class StemSpec:
    """The first full convolution: ``channels`` filters of ``kernel`` x ``kernel`` at ``stride``."""

    channels: int = 32
    kernel: int = 3
    stride: int = 2
    activation: str = "relu6"

    def __post_init__(self) -> None:
        _check_channels("stem", self.channels)
        _check_kernel("stem", self.kernel)
        _check_stride("stem", self.stride)
        _check_activation("stem", self.activation)


@dataclasses.dataclass(frozen=True)
class StageSpec:
    """``repeats`` blocks of one type; only the first block uses ``stride``.

    ``se_ratio`` sizes the squeeze-excite bottleneck relative to the block's *input* channels,
    ``max(1, int(in_channels * se_ratio))``, as in EfficientNet (Tan & Le 2019); 0 means no SE.
    """

    block: str
    expansion: int
    kernel: int
    channels: int
    repeats: int
    stride: int
    se_ratio: float = 0.0
    activation: str = "relu6"
    skip: str = "auto"

    def __post_init__(self) -> None:
        where = "stage"
        if self.block not in BLOCK_TYPES:
            raise ArchitectureError(
                f"{where}: block must be one of {', '.join(BLOCK_TYPES)}, got {self.block!r}"
            )
        _check_positive_int(where, "expansion", self.expansion)
        _check_kernel(where, self.kernel)
        _check_channels(where, self.channels)
        _check_positive_int(where, "repeats", self.repeats)
        _check_stride(where, self.stride)
        if not _is_number(self.se_ratio) or not 0.0 <= self.se_ratio <= 1.0:
            raise ArchitectureError(f"{where}: se_ratio must be in [0, 1], got {self.se_ratio!r}")
        _check_activation(where, self.activation)
        if self.skip not in SKIP_MODES:
            raise ArchitectureError(
                f"{where}: skip must be one of {', '.join(SKIP_MODES)}, got {self.skip!r}"
            )

    def to_string(self) -> str:
        """The timm-like token, e.g. ``ir_r2_k3_s2_e6_c24_relu6``."""
        parts = [
            _TOKEN_OF_TYPE[self.block],
            f"r{self.repeats}",
            f"k{self.kernel}",
            f"s{self.stride}",
            f"e{self.expansion}",
            f"c{self.channels}",
        ]
        if self.se_ratio:
            parts.append(f"se{_format_float(self.se_ratio)}")
        if self.skip != "auto":
            parts.append(_TOKEN_OF_SKIP[self.skip])
        parts.append(self.activation)
        return "_".join(parts)


@dataclasses.dataclass(frozen=True)
class HeadSpec:
    """The last 1x1 convolution (``channels`` wide), then global pooling, dropout, classifier."""

    channels: int = 1280
    dropout: float = 0.0
    activation: str = "relu6"

    def __post_init__(self) -> None:
        _check_channels("head", self.channels)
        if not _is_number(self.dropout) or not 0.0 <= self.dropout < 1.0:
            raise ArchitectureError(f"head: dropout must be in [0, 1), got {self.dropout!r}")
        _check_activation("head", self.activation)


@dataclasses.dataclass(frozen=True)
class Architecture:
    """A whole network: input, stem, stages, head, classes. Validated on construction."""

    resolution: int
    channels: int
    num_classes: int
    stem: StemSpec
    stages: tuple[StageSpec, ...]
    head: HeadSpec

    def __post_init__(self) -> None:
        _check_positive_int("input", "resolution", self.resolution)
        _check_positive_int("input", "channels", self.channels)
        _check_positive_int("classes", "num_classes", self.num_classes)
        if not isinstance(self.stem, StemSpec):
            raise ArchitectureError(f"stem: expected a StemSpec, got {type(self.stem).__name__}")
        if not isinstance(self.head, HeadSpec):
            raise ArchitectureError(f"head: expected a HeadSpec, got {type(self.head).__name__}")
        stages = self.stages
        if not isinstance(stages, tuple):  # a list would make the frozen value unhashable and mutable
            raise ArchitectureError(f"stages: expected a tuple of StageSpec, got {type(stages).__name__}")
        if not stages:
            raise ArchitectureError("stages: at least one stage is required")
        in_channels = self.stem.channels
        for index, stage in enumerate(stages, start=1):
            if not isinstance(stage, StageSpec):
                raise ArchitectureError(
                    f"stage {index}: expected a StageSpec, got {type(stage).__name__}"
                )
            if stage.skip == "all" and (stage.stride != 1 or stage.channels != in_channels):
                raise ArchitectureError(
                    f"stage {index}: skip='all' is impossible, the first block goes from "
                    f"{in_channels} to {stage.channels} channels at stride {stage.stride}; "
                    "a residual needs stride 1 and equal channels"
                )
            in_channels = stage.channels
        after_stem = math.ceil(self.resolution / self.stem.stride)
        if after_stem < MIN_FEATURE_PX:
            raise ArchitectureError(
                f"input: resolution {self.resolution} collapses to {after_stem} px after the stem "
                f"(stride {self.stem.stride}); at least {MIN_FEATURE_PX} px are needed, so "
                f"resolution must be >= {MIN_FEATURE_PX * self.stem.stride - self.stem.stride + 1}"
            )

    # ----- derived values -------------------------------------------------------------------
    def with_input(
        self,
        *,
        resolution: int | None = None,
        channels: int | None = None,
        num_classes: int | None = None,
    ) -> Architecture:
        """The same network for another input size, input channels or number of classes."""
        return dataclasses.replace(
            self,
            resolution=self.resolution if resolution is None else resolution,
            channels=self.channels if channels is None else channels,
            num_classes=self.num_classes if num_classes is None else num_classes,
        )

    # ----- string form ----------------------------------------------------------------------
    def to_string(self) -> str:
        """The canonical string form (grammar in the module docstring)."""
        stem = self.stem
        head = self.head
        head_parts = [f"head_c{head.channels}"]
        if head.dropout:
            head_parts.append(f"d{_format_float(head.dropout)}")
        head_parts.append(head.activation)
        parts = [
            f"in{self.resolution}x{self.channels}",
            f"stem_c{stem.channels}_k{stem.kernel}_s{stem.stride}_{stem.activation}",
            *(stage.to_string() for stage in self.stages),
            "_".join(head_parts),
            f"cls{self.num_classes}",
        ]
        return "-".join(parts)

    def __str__(self) -> str:
        return self.to_string()

    @classmethod
    def from_string(cls, text: str) -> Architecture:
        """Parse the string form; errors name the part (``stage 3``, ``head``, ...) and token."""
        if not isinstance(text, str) or not text.strip():
            raise ArchitectureError("architecture string is empty")
        parts = text.strip().split("-")
        if len(parts) < 5:
            raise ArchitectureError(
                f"architecture string needs input-stem-stage(s)-head-classes parts, got {text!r}"
            )
        resolution, channels = _parse_input(parts[0])
        stem = _parse_stem(parts[1])
        stages = tuple(
            _parse_stage(part, f"stage {index}") for index, part in enumerate(parts[2:-2], start=1)
        )
        head = _parse_head(parts[-2])
        num_classes = _parse_classes(parts[-1])
        return cls(
            resolution=resolution,
            channels=channels,
            num_classes=num_classes,
            stem=stem,
            stages=stages,
            head=head,
        )

    # ----- JSON form ------------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict carrying :data:`FORMAT_VERSION`."""
        return {
            "format_version": FORMAT_VERSION,
            "resolution": self.resolution,
            "channels": self.channels,
            "num_classes": self.num_classes,
            "stem": dataclasses.asdict(self.stem),
            "stages": [dataclasses.asdict(stage) for stage in self.stages],
            "head": dataclasses.asdict(self.head),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Architecture:
        """Inverse of :meth:`to_json`; rejects unknown versions and keys."""
        if not isinstance(data, Mapping):
            raise ArchitectureError(f"architecture JSON must be an object, got {type(data).__name__}")
        version = data.get("format_version")
        if version != FORMAT_VERSION:
            raise ArchitectureError(
                f"format_version: expected {FORMAT_VERSION}, got {version!r}"
            )
        _check_keys("architecture", data, {f.name for f in dataclasses.fields(cls)} | {"format_version"})
        stages_data = data["stages"]
        if not isinstance(stages_data, (list, tuple)):
            raise ArchitectureError("stages: expected a list")
        return cls(
            resolution=data["resolution"],
            channels=data["channels"],
            num_classes=data["num_classes"],
            stem=_spec_from_json(StemSpec, data["stem"], "stem"),
            stages=tuple(
                _spec_from_json(StageSpec, stage, f"stage {index}")
                for index, stage in enumerate(stages_data, start=1)
            ),
            head=_spec_from_json(HeadSpec, data["head"], "head"),
        )


def _check_keys(where: str, data: Mapping[str, Any], allowed: set[str]) -> None:
    unknown = sorted(set(data) - allowed)
    missing = sorted(allowed - set(data))
    if unknown:
        raise ArchitectureError(
            f"{where}: unknown key(s) {unknown}; allowed: {', '.join(sorted(allowed))}"
        )
    if missing:
        raise ArchitectureError(f"{where}: missing key(s) {missing}")


def _spec_from_json(spec_cls: type, data: Any, where: str) -> Any:
    if not isinstance(data, Mapping):
        raise ArchitectureError(f"{where}: expected an object, got {type(data).__name__}")
    fields = dataclasses.fields(spec_cls)
    required = {f.name for f in fields if f.default is dataclasses.MISSING}
    allowed = {f.name for f in fields}
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise ArchitectureError(
            f"{where}: unknown key(s) {unknown}; allowed: {', '.join(sorted(allowed))}"
        )
    missing = sorted(required - set(data))
    if missing:
        raise ArchitectureError(f"{where}: missing key(s) {missing}")
    try:
        return spec_cls(**dict(data))
    except ArchitectureError as error:
        raise _relabel(error, where) from None


def _relabel(error: ArchitectureError, where: str) -> ArchitectureError:
    """Replace the generic ``stage:`` prefix of a spec's own check with e.g. ``stage 3:``."""
    message = str(error)
    for generic in ("stage: ", "stem: ", "head: "):
        if message.startswith(generic):
            return ArchitectureError(f"{where}: {message[len(generic):]}")
    return ArchitectureError(f"{where}: {message}")


# ----- string parsing helpers ----------------------------------------------------------------
_INT = r"([0-9]+)"
_FLOAT = r"([0-9]+(?:\.[0-9]+)?)"


def _parse_input(token: str) -> tuple[int, int]:
    match = re.fullmatch(rf"in{_INT}x{_INT}", token)
    if not match:
        raise ArchitectureError(f"input: expected 'in<resolution>x<channels>', got {token!r}")
    return int(match.group(1)), int(match.group(2))


def _parse_classes(token: str) -> int:
    match = re.fullmatch(rf"cls{_INT}", token)
    if not match:
        raise ArchitectureError(f"classes: expected 'cls<num_classes>', got {token!r}")
    return int(match.group(1))


def _split_tokens(token: str, where: str, prefix: str) -> list[str]:
    tokens = token.split("_")
    if tokens[0] != prefix:
        raise ArchitectureError(f"{where}: expected a part starting with {prefix!r}, got {token!r}")
    return tokens[1:]


def _parse_fields(
    tokens: list[str], where: str, patterns: dict[str, tuple[str, type]]
) -> tuple[dict[str, Any], list[str]]:
    """Match ``<key><number>`` tokens; returns the parsed values and the tokens left over."""
    values: dict[str, Any] = {}
    rest: list[str] = []
    for token in tokens:
        for key, (field, kind) in patterns.items():
            match = re.fullmatch(rf"{key}{_FLOAT if kind is float else _INT}", token)
            if match:
                if field in values:
                    raise ArchitectureError(f"{where}: {field} given twice ({token!r})")
                values[field] = kind(match.group(1))
                break
        else:
            rest.append(token)
    return values, rest


def _take_activation(rest: list[str], where: str, token: str) -> str:
    activations = [t for t in rest if t in ACTIVATIONS]
    if len(activations) != 1:
        raise ArchitectureError(
            f"{where}: expected exactly one activation ({', '.join(ACTIVATIONS)}) in {token!r}"
        )
    rest.remove(activations[0])
    return activations[0]


def _reject_rest(rest: list[str], where: str, token: str) -> None:
    if rest:
        raise ArchitectureError(f"{where}: unknown token(s) {rest} in {token!r}")


def _require(values: dict[str, Any], fields: tuple[str, ...], where: str, token: str) -> None:
    missing = [f for f in fields if f not in values]
    if missing:
        raise ArchitectureError(f"{where}: missing {', '.join(missing)} in {token!r}")


def _parse_stem(token: str) -> StemSpec:
    where = "stem"
    tokens = _split_tokens(token, where, "stem")
    values, rest = _parse_fields(
        tokens, where, {"c": ("channels", int), "k": ("kernel", int), "s": ("stride", int)}
    )
    activation = _take_activation(rest, where, token)
    _reject_rest(rest, where, token)
    _require(values, ("channels", "kernel", "stride"), where, token)
    return StemSpec(activation=activation, **values)


def _parse_head(token: str) -> HeadSpec:
    where = "head"
    tokens = _split_tokens(token, where, "head")
    values, rest = _parse_fields(tokens, where, {"c": ("channels", int), "d": ("dropout", float)})
    activation = _take_activation(rest, where, token)
    _reject_rest(rest, where, token)
    _require(values, ("channels",), where, token)
    return HeadSpec(activation=activation, **values)


def _parse_stage(token: str, where: str) -> StageSpec:
    tokens = token.split("_")
    if tokens[0] not in _TYPE_TOKENS:
        raise ArchitectureError(
            f"{where}: unknown block type {tokens[0]!r} in {token!r}; expected one of "
            + ", ".join(f"{k} ({v})" for k, v in _TYPE_TOKENS.items())
        )
    values, rest = _parse_fields(
        tokens[1:],
        where,
        {
            "r": ("repeats", int),
            "k": ("kernel", int),
            "se": ("se_ratio", float),
            "s": ("stride", int),
            "e": ("expansion", int),
            "c": ("channels", int),
        },
    )
    activation = _take_activation(rest, where, token)
    skips = [t for t in rest if t in _SKIP_TOKENS]
    if len(skips) > 1:
        raise ArchitectureError(f"{where}: more than one skip token in {token!r}")
    for skip_token in skips:
        rest.remove(skip_token)
    _reject_rest(rest, where, token)
    _require(values, ("repeats", "kernel", "stride", "expansion", "channels"), where, token)
    try:
        return StageSpec(
            block=_TYPE_TOKENS[tokens[0]],
            activation=activation,
            skip=_SKIP_TOKENS[skips[0]] if skips else "auto",
            **values,
        )
    except ArchitectureError as error:
        raise _relabel(error, where) from None


# ----- strides for small inputs ----------------------------------------------------------------
def effective_strides(arch: Architecture) -> tuple[int, ...]:
    """First-block stride of each stage after adapting to the input size.

    Walking the stages in order, a stride-2 stage keeps its stride only if the feature map after it
    is still at least :data:`MIN_FEATURE_PX` pixels; otherwise it runs at stride 1. Padding is
    ``same``, so a stride-2 layer maps ``n`` pixels to ``ceil(n / 2)``.
    """
    size = math.ceil(arch.resolution / arch.stem.stride)
    strides = []
    for stage in arch.stages:
        stride = stage.stride
        if stride > 1 and math.ceil(size / stride) < MIN_FEATURE_PX:
            stride = 1
        size = math.ceil(size / stride)
        strides.append(stride)
    return tuple(strides)


def feature_sizes(arch: Architecture) -> tuple[int, ...]:
    """Feature-map side (pixels) after the stem and after each stage, with adapted strides."""
    size = math.ceil(arch.resolution / arch.stem.stride)
    sizes = [size]
    for stride in effective_strides(arch):
        size = math.ceil(size / stride)
        sizes.append(size)
    return tuple(sizes)

"""The supernet's shape, derived from a search space, and the encoding of one subnet (no TensorFlow).

Weight sharing follows Once-for-All (Cai et al. 2020) and BigNAS (Yu et al. 2020):

* width and expansion: a subnet uses the *first* channels of every weight tensor;
* kernel: a subnet's k x k kernel is the *centre* of the largest kernel (OFA's elastic kernel without its
  kernel transformation matrices; see docs/supernet.md for why);
* depth: a stage runs its *first* ``depth`` blocks (the others are skipped, they are residual);
* block type: a stage that offers both MBConv and Fused-MBConv keeps one weight path per type (and one per
  ``expansion == 1`` variant, which has no expand layer), selected per stage;
* squeeze-excite: weights sized for the largest reduction, used only when the subnet has SE;
* resolution: the same weights at every input size (strides adapt as the builder's do).

A subnet is encoded as a flat tuple of integers (:meth:`SupernetLayout.encode`), one layout per
space, so the training step is traced once per resolution and takes the subnet as a tensor.
"""

from __future__ import annotations

import dataclasses
import functools
import random
from typing import Any

from evaluators.supernet.spec import SupernetError, elastic_kind
from search_spaces.architecture import Architecture, effective_strides
from search_spaces.cost import arch_cost, se_channels
from search_spaces.scaling import scale_head, scale_stage, scale_stem
from search_spaces.space import SearchSpace, SearchSpaceError

__all__ = ["Branch", "SlotLayout", "StageLayout", "SupernetLayout", "VARIANTS", "ParamSpec"]

# Weight paths of a block: MBConv with / without expand layer, Fused-MBConv with / without project.
VARIANTS: dict[tuple[str, bool], str] = {
    ("mbconv", False): "ir", ("mbconv", True): "ir1", ("fused_mbconv", False): "er", ("fused_mbconv", True): "er1",
}
_GLOBALS = 2  # stem channels, head channels
_STAGE_FIELDS = 2  # kernel, out channels
_SLOT_FIELDS = 4  # branch (see StageLayout.branches), in channels, hidden channels, se channels


@dataclasses.dataclass(frozen=True)
class Branch:
    """One way a block slot runs: its weight path, squeeze-excite, activation and residual."""

    variant: str
    se: bool
    activation: str
    residual: bool


@dataclasses.dataclass(frozen=True)
class ParamSpec:
    """One supernet variable: its name, full shape and initializer (``he``, ``glorot``, ``zeros``, ``ones``)."""

    name: str
    shape: tuple[int, ...]
    init: str
    trainable: bool = True


@dataclasses.dataclass(frozen=True)
class SlotLayout:
    """Block ``index`` of a stage at its largest: input and hidden channels per variant, SE width."""

    index: int
    in_max: int
    hidden_max: dict[str, int]
    se_max: int


@dataclasses.dataclass(frozen=True)
class StageLayout:
    """One stage of the supernet: the variants it offers, its largest sizes and its block slots."""

    number: int  # 1-based, as in the builder's layer names
    stride: int
    variants: tuple[str, ...]
    kernel_max: int
    out_max: int
    depth_min: int
    depth_max: int
    activations: tuple[str, ...]
    se_choices: tuple[bool, ...]  # (False,), (True,) or (False, True)
    slots: tuple[SlotLayout, ...]

    def branches(self, index: int) -> tuple[Branch | None, ...]:
        """What slot ``index`` can do, flat (one ``tf.switch_case``, no nested control flow, whose
        gradients TensorFlow's cond_v2 cannot always build); ``None`` is "skipped" (beyond the depth)."""
        if index == 0:
            residuals = (False, True) if self.stride == 1 else (False,)
        else:
            residuals = (True,)
        runs = tuple(Branch(v, se, a, r) for v in self.variants for se in self.se_choices
                     for a in self.activations for r in residuals)
        return ((None,) if index >= self.depth_min else ()) + runs


class SupernetLayout:
    """Shape of the supernet of ``space`` and the encoding of its subnets."""

    def __init__(self, space: SearchSpace) -> None:
        self.space = space
        self.stem_max = max(scale_stem(space.stem.channels, w) for w in space.width)
        self.head_max = max(scale_head(space.head.channels, w) for w in space.width)
        stages = []
        in_max = self.stem_max
        for number, choices in enumerate(space.stages, start=1):
            out_max = max(scale_stage(choices.channels, w, sw) for w in space.width for sw in choices.width)
            variants = tuple(dict.fromkeys(VARIANTS[(b, e == 1)] for b in choices.block for e in choices.expansion))
            big_e = max(choices.expansion)
            ratio = max(choices.se_ratio)
            slots = []
            for index in range(max(choices.depth)):
                cin = in_max if index == 0 else out_max
                hidden = {v: (cin if v == "ir1" else out_max if v == "er1" else cin * big_e) for v in variants}
                slots.append(SlotLayout(index, cin, hidden, se_channels(cin, ratio) if ratio else 0))
            stages.append(StageLayout(
                number=number, stride=choices.stride, variants=variants, kernel_max=max(choices.kernel),
                out_max=out_max, depth_min=min(choices.depth), depth_max=max(choices.depth),
                activations=tuple(choices.activation),
                se_choices=tuple(sorted({bool(r) for r in choices.se_ratio})), slots=tuple(slots)))
            in_max = out_max
        self.stages: tuple[StageLayout, ...] = tuple(stages)
        self.size = _GLOBALS + sum(_STAGE_FIELDS + _SLOT_FIELDS * s.depth_max for s in self.stages)

    # ----- indices into the encoded subnet --------------------------------------------------
    def stage_offset(self, stage: StageLayout) -> int:
        offset = _GLOBALS
        for other in self.stages[: stage.number - 1]:
            offset += _STAGE_FIELDS + _SLOT_FIELDS * other.depth_max
        return offset

    @staticmethod
    def slot_offset(stage_offset: int, index: int) -> int:
        return stage_offset + _STAGE_FIELDS + _SLOT_FIELDS * index

    # ----- membership and encoding ----------------------------------------------------------
    def check(self, arch: Architecture) -> None:
        """Raise :class:`SupernetError` naming the choice when ``arch`` is not a subnet of this supernet."""
        if not isinstance(arch, Architecture):
            raise SupernetError(f"expected an Architecture, got {type(arch).__name__}")
        space = self.space
        if arch.resolution not in space.resolution:
            raise SupernetError(f"subnet outside the supernet: resolution {arch.resolution} is not one of "
                                f"{list(space.resolution)}")
        if len(arch.stages) != len(space.stages):
            raise SupernetError(f"subnet outside the supernet: {len(arch.stages)} stages, the supernet has "
                                f"{len(space.stages)}")
        try:
            space.choices_of(arch)
        except SearchSpaceError as error:
            raise SupernetError(f"subnet outside the supernet: {error}") from None

    def encode(self, arch: Architecture) -> tuple[int, ...]:
        """The subnet as a flat integer tuple (checked with :meth:`check` first)."""
        self.check(arch)
        code = [0] * self.size
        code[0], code[1] = arch.stem.channels, arch.head.channels
        in_channels = arch.stem.channels
        for layout, spec in zip(self.stages, arch.stages):
            base = self.stage_offset(layout)
            variant = VARIANTS[(spec.block, spec.expansion == 1)]
            code[base:base + _STAGE_FIELDS] = [spec.kernel, spec.channels]
            for index in range(spec.repeats):
                cin = in_channels if index == 0 else spec.channels
                hidden = cin * spec.expansion if variant in ("ir", "er") else cin if variant == "ir1" else spec.channels
                se = se_channels(cin, spec.se_ratio) if spec.se_ratio else 0
                residual = index > 0 or (layout.stride == 1 and cin == spec.channels)
                branch = Branch(variant, bool(spec.se_ratio), spec.activation, residual)
                at = self.slot_offset(base, index)
                code[at:at + _SLOT_FIELDS] = [layout.branches(index).index(branch), cin, hidden, se]
            for index in range(spec.repeats, layout.depth_max):  # skipped slots: branch 0 (None)
                code[self.slot_offset(base, index)] = layout.branches(index).index(None)
            in_channels = spec.channels
        return tuple(code)

    def strides(self, resolution: int) -> tuple[int, ...]:
        """First-block stride per stage at ``resolution`` (the builder's :func:`effective_strides`)."""
        return effective_strides(self.extreme("max").with_input(resolution=resolution))

    # ----- sampling (sandwich rule) ---------------------------------------------------------
    def extreme(self, which: str, elastic: frozenset[str] | None = None) -> Architecture:
        """The largest (``"max"``) or smallest (``"min"``) subnet: every numeric choice at its end; per
        stage the block type with the most (fewest) multiply-accumulates at those sizes. With ``elastic``
        (kinds of :data:`evaluators.supernet.spec.ELASTIC_KINDS`), only choices of those kinds go to the
        ``which`` end; the others stay at the largest subnet's value (a progressive-shrinking phase)."""
        return self._with(self._extreme_params(which, elastic), "", None)

    def _extreme_params(self, which: str, elastic: frozenset[str] | None) -> dict[str, Any]:
        def pick(name: str) -> Any:
            return min if which == "min" and (elastic is None or elastic_kind(name) in elastic) else max

        params: dict[str, Any] = {}
        for choice in self.space.parameters():
            if not choice.name.endswith(("_block", "_activation")):
                params[choice.name] = pick(choice.name)(choice.values)
            elif choice.name.endswith("_activation"):
                params[choice.name] = choice.values[0]
        for choice in self.space.parameters():
            if choice.name.endswith("_block"):
                params[choice.name] = pick(choice.name)(
                    choice.values, key=lambda v: arch_cost(self._with(params, choice.name, v)).macs)
        return params

    @functools.cached_property
    def _largest_params(self) -> dict[str, Any]:
        return self._extreme_params("max", None)

    def _with(self, params: dict[str, Any], name: str, value: Any) -> Architecture:
        filled = dict(params)
        for choice in self.space.parameters():
            filled.setdefault(choice.name, choice.values[0])
        if name:
            filled[name] = value
        return self.space.architecture(filled)

    def sample(self, rng: random.Random, resolution: int | None = None,
               elastic: frozenset[str] | None = None) -> Architecture:
        """A uniformly random subnet (each choice independently), at ``resolution`` if given. With
        ``elastic``, only choices of those kinds are drawn; the others are the largest subnet's."""
        if elastic is None:
            params = {c.name: rng.choice(c.values) for c in self.space.parameters()}
        else:
            largest = self._largest_params
            params = {c.name: rng.choice(c.values) if elastic_kind(c.name) in elastic else largest[c.name]
                      for c in self.space.parameters()}
        if resolution is not None and len(self.space.resolution) > 1:
            params["resolution"] = resolution
        return self.space.architecture(params)

    # ----- variables ------------------------------------------------------------------------
    def param_specs(self) -> list[ParamSpec]:
        """Every supernet variable at its largest shape."""
        specs = [ParamSpec("stem_conv_kernel", (self.space.stem.kernel,) * 2 + (self.space.channels, self.stem_max),
                           "he"), *_bn_specs("stem_bn", self.stem_max)]
        for stage in self.stages:
            for slot in stage.slots:
                for variant in stage.variants:
                    specs.extend(_block_specs(stage, slot, variant))
        last = self.stages[-1].out_max
        specs += [ParamSpec("head_conv_kernel", (1, 1, last, self.head_max), "he"),
                  *_bn_specs("head_bn", self.head_max),
                  ParamSpec("classifier_kernel", (self.head_max, self.space.num_classes), "glorot"),
                  ParamSpec("classifier_bias", (self.space.num_classes,), "zeros")]
        return specs


def block_prefix(stage: StageLayout, slot: SlotLayout, variant: str) -> str:
    return f"s{stage.number}b{slot.index + 1}_{variant}"


def _bn_specs(prefix: str, channels: int) -> list[ParamSpec]:
    return [ParamSpec(f"{prefix}_gamma", (channels,), "ones"), ParamSpec(f"{prefix}_beta", (channels,), "zeros"),
            ParamSpec(f"{prefix}_moving_mean", (channels,), "zeros", False),
            ParamSpec(f"{prefix}_moving_variance", (channels,), "ones", False)]


def _se_specs(prefix: str, channels: int, reduced: int) -> list[ParamSpec]:
    return [ParamSpec(f"{prefix}_se_reduce_kernel", (1, 1, channels, reduced), "glorot"),
            ParamSpec(f"{prefix}_se_reduce_bias", (reduced,), "zeros"),
            ParamSpec(f"{prefix}_se_expand_kernel", (1, 1, reduced, channels), "glorot"),
            ParamSpec(f"{prefix}_se_expand_bias", (channels,), "zeros")]


def _block_specs(stage: StageLayout, slot: SlotLayout, variant: str) -> list[ParamSpec]:
    prefix = block_prefix(stage, slot, variant)
    k, cin, hidden, out = stage.kernel_max, slot.in_max, slot.hidden_max[variant], stage.out_max
    specs: list[ParamSpec] = []
    if variant == "ir":
        specs += [ParamSpec(f"{prefix}_expand_kernel", (1, 1, cin, hidden), "he"), *_bn_specs(f"{prefix}_expand_bn",
                                                                                              hidden)]
    if variant in ("ir", "ir1"):
        specs += [ParamSpec(f"{prefix}_dw_kernel", (k, k, hidden, 1), "he"), *_bn_specs(f"{prefix}_dw_bn", hidden)]
    else:
        specs += [ParamSpec(f"{prefix}_fused_kernel", (k, k, cin, hidden), "he"),
                  *_bn_specs(f"{prefix}_fused_bn", hidden)]
    if True in stage.se_choices:
        specs += _se_specs(prefix, hidden, slot.se_max)
    if variant != "er1":
        specs += [ParamSpec(f"{prefix}_project_kernel", (1, 1, hidden, out), "he"),
                  *_bn_specs(f"{prefix}_project_bn", out)]
    return specs


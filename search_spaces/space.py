"""A search space over MBConv / Fused-MBConv stages, sampled by Optuna, KerasTuner or Ray Tune.

The space is one list of named categorical choices (:meth:`SearchSpace.parameters`): the global
``resolution`` and ``width`` (overall width multiplier), and per stage ``stage<i>_block``,
``_expansion``, ``_kernel``, ``_width`` (multiplier on the stage's base channels), ``_depth``,
``_se_ratio`` and ``_activation``. A choice with a single allowed value is fixed, not a parameter.
:meth:`SearchSpace.architecture` turns a ``{name: value}`` dict into an :class:`Architecture`; the
Optuna (``trial.suggest_categorical``), KerasTuner (``hp.Choice``) and Ray Tune (``tune.choice``)
adapters only collect that dict, so equal choices give equal architectures.

Channels follow MobileNetV2's width rules (:mod:`search_spaces.scaling`), so MobileNetV2 at any width
listed in ``width`` is a point of a space built around its seven stages (``default.yaml``);
:meth:`SearchSpace.choices_of` returns its parameters, e.g. for Optuna's ``study.enqueue_trial``.

YAML layout (every choice key takes a value or a list of values)::

    name: <text>
    input: {channels: 3, num_classes: 1000}
    resolution: [96, 128, 160, 192, 224]
    width: [0.35, 0.5, 0.75, 1.0]
    stem: {channels: 32, kernel: 3, stride: 2, activation: relu6}
    head: {channels: 1280, dropout: 0.0, activation: relu6}
    stages:
      - {channels: 24, stride: 2, block: [mbconv, fused_mbconv], expansion: [3, 6],
         kernel: [3, 5], width: [0.75, 1.0], depth: [1, 2], se_ratio: 0.0, activation: relu6}
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from search_spaces.architecture import (
    ACTIVATIONS,
    BLOCK_TYPES,
    Architecture,
    ArchitectureError,
    HeadSpec,
    StageSpec,
    StemSpec,
)
from search_spaces.scaling import scale_head, scale_stage, scale_stem

__all__ = ["DEFAULT_SPACE_PATH", "Choice", "SearchSpace", "SearchSpaceError", "StageChoices"]

DEFAULT_SPACE_PATH = Path(__file__).with_name("default.yaml")

_STAGE_CHOICE_KEYS = ("block", "expansion", "kernel", "width", "depth", "se_ratio", "activation")
_STAGE_KEYS = ("channels", "stride", *_STAGE_CHOICE_KEYS)
# What each numeric stage choice accepts, named in the one-line error of a bad value.
_ALLOWED_TEXT = {
    "kernel": "odd positive integers, e.g. 3, 5, 7",
    "expansion": "positive integers, e.g. 1, 3, 4, 6",
    "depth": "positive integers (repeats), e.g. 1, 2, 3",
    "width": "numbers > 0, e.g. 0.75, 1.0, 1.25",
    "se_ratio": "numbers in [0, 1], e.g. 0.0, 0.25",
}
_TOP_KEYS = ("name", "input", "resolution", "width", "stem", "head", "stages")
_INPUT_KEYS = ("channels", "num_classes")
_STEM_KEYS = ("channels", "kernel", "stride", "activation")
_HEAD_KEYS = ("channels", "dropout", "activation")


class SearchSpaceError(ValueError):
    """A search-space definition or a set of choices is invalid; the message names the key."""


@dataclasses.dataclass(frozen=True)
class Choice:
    """One named categorical choice."""

    name: str
    values: tuple[Any, ...]


@dataclasses.dataclass(frozen=True)
class StageChoices:
    """Allowed values for one stage, around its base output channels and first-block stride."""

    channels: int
    stride: int
    block: tuple[str, ...] = ("mbconv",)
    expansion: tuple[int, ...] = (6,)
    kernel: tuple[int, ...] = (3,)
    width: tuple[float, ...] = (1.0,)
    depth: tuple[int, ...] = (1,)
    se_ratio: tuple[float, ...] = (0.0,)
    activation: tuple[str, ...] = ("relu6",)

    def stage(self, overall_width: float, **values: Any) -> StageSpec:
        """The stage for one value of each choice at an overall width multiplier."""
        return StageSpec(
            block=values["block"],
            expansion=values["expansion"],
            kernel=values["kernel"],
            channels=scale_stage(self.channels, overall_width, values["width"]),
            repeats=values["depth"],
            stride=self.stride,
            se_ratio=values["se_ratio"],
            activation=values["activation"],
        )

    def combinations(self) -> list[dict[str, Any]]:
        """Every assignment of this stage's choices, as dicts keyed like the YAML."""
        grids = [getattr(self, key) for key in _STAGE_CHOICE_KEYS]
        return [dict(zip(_STAGE_CHOICE_KEYS, combo)) for combo in itertools.product(*grids)]


@dataclasses.dataclass(frozen=True)
class SearchSpace:
    """Per-stage and global choices; build it with :meth:`from_dict`, :meth:`from_yaml`, :meth:`default`."""

    stages: tuple[StageChoices, ...]
    resolution: tuple[int, ...] = (224,)
    width: tuple[float, ...] = (1.0,)
    stem: StemSpec = StemSpec()
    head: HeadSpec = HeadSpec()
    channels: int = 3
    num_classes: int = 1000
    name: str = "custom"

    def __post_init__(self) -> None:
        _validate_space(self)

    # ----- construction ---------------------------------------------------------------------
    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SearchSpace:
        """Build from the YAML layout in the module docstring; errors name the key."""
        if not isinstance(data, Mapping):
            raise SearchSpaceError(f"search space must be a mapping, got {type(data).__name__}")
        _check_keys("search space", data, _TOP_KEYS, required=("stages",))
        input_data = _mapping(data.get("input", {}), "input")
        _check_keys("input", input_data, _INPUT_KEYS)
        stem_data = _mapping(data.get("stem", {}), "stem")
        _check_keys("stem", stem_data, _STEM_KEYS)
        head_data = _mapping(data.get("head", {}), "head")
        _check_keys("head", head_data, _HEAD_KEYS)
        stages_data = data["stages"]
        if not isinstance(stages_data, list) or not stages_data:
            raise SearchSpaceError("stages: expected a non-empty list of stage mappings")
        stages = []
        for index, stage_data in enumerate(stages_data, start=1):
            where = f"stages[{index}]"
            stage_data = _mapping(stage_data, where)
            _check_keys(where, stage_data, _STAGE_KEYS, required=("channels", "stride"))
            values = {
                key: _as_choices(stage_data[key], f"{where}.{key}", _KINDS[key])
                for key in _STAGE_CHOICE_KEYS
                if key in stage_data
            }
            stages.append(
                StageChoices(
                    channels=_scalar(stage_data["channels"], f"{where}.channels", int),
                    stride=_scalar(stage_data["stride"], f"{where}.stride", int),
                    **values,
                )
            )
        try:
            stem = StemSpec(**stem_data)
            head = HeadSpec(**head_data)
        except (ArchitectureError, TypeError) as error:
            raise SearchSpaceError(str(error)) from None
        kwargs: dict[str, Any] = {}
        if "resolution" in data:
            kwargs["resolution"] = _as_choices(data["resolution"], "resolution", int)
        if "width" in data:
            kwargs["width"] = _as_choices(data["width"], "width", float)
        if "channels" in input_data:
            kwargs["channels"] = _scalar(input_data["channels"], "input.channels", int)
        if "num_classes" in input_data:
            kwargs["num_classes"] = _scalar(input_data["num_classes"], "input.num_classes", int)
        if "name" in data:
            kwargs["name"] = str(data["name"])
        return cls(stages=tuple(stages), stem=stem, head=head, **kwargs)

    @classmethod
    def from_yaml(cls, source: str | Path) -> SearchSpace:
        """Load a YAML file (a path) or YAML text (a string containing a newline)."""
        import yaml

        if isinstance(source, Path) or "\n" not in str(source):
            text = Path(source).read_text(encoding="utf-8")
        else:
            text = str(source)
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as error:
            raise SearchSpaceError(f"invalid YAML: {error}") from None
        return cls.from_dict(data)

    @classmethod
    def default(cls) -> SearchSpace:
        """The packaged space around MobileNetV2's seven stages (``search_spaces/default.yaml``)."""
        return cls.from_yaml(DEFAULT_SPACE_PATH)

    def with_input(
        self,
        *,
        resolutions: Sequence[int] | None = None,
        channels: int | None = None,
        num_classes: int | None = None,
    ) -> SearchSpace:
        """The same space for another task (input channels, classes) or resolution choices."""
        return dataclasses.replace(
            self,
            resolution=self.resolution if resolutions is None else tuple(resolutions),
            channels=self.channels if channels is None else channels,
            num_classes=self.num_classes if num_classes is None else num_classes,
        )

    def to_dict(self) -> dict[str, Any]:
        """The YAML layout of this space (``from_dict(to_dict())`` gives an equal space)."""
        return {
            "name": self.name,
            "input": {"channels": self.channels, "num_classes": self.num_classes},
            "resolution": list(self.resolution),
            "width": list(self.width),
            "stem": dataclasses.asdict(self.stem),
            "head": dataclasses.asdict(self.head),
            "stages": [
                {"channels": s.channels, "stride": s.stride}
                | {key: list(getattr(s, key)) for key in _STAGE_CHOICE_KEYS}
                for s in self.stages
            ],
        }

    # ----- the one list of named choices ----------------------------------------------------
    def all_choices(self) -> tuple[Choice, ...]:
        """Every choice, fixed ones (a single value) included, in a stable order."""
        choices = [Choice("resolution", self.resolution), Choice("width", self.width)]
        for index, stage in enumerate(self.stages, start=1):
            choices.extend(
                Choice(f"stage{index}_{key}", getattr(stage, key)) for key in _STAGE_CHOICE_KEYS
            )
        return tuple(choices)

    def parameters(self) -> tuple[Choice, ...]:
        """The choices a sampler decides: those with more than one allowed value."""
        return tuple(c for c in self.all_choices() if len(c.values) > 1)

    def architecture(self, params: Mapping[str, Any]) -> Architecture:
        """The architecture for ``{parameter name: value}``; fixed choices may be omitted."""
        choices = {c.name: c for c in self.all_choices()}
        unknown = sorted(set(params) - set(choices))
        if unknown:
            raise SearchSpaceError(
                f"unknown parameter(s) {unknown}; known: {', '.join(c.name for c in self.parameters())}"
            )
        values: dict[str, Any] = {}
        for name, choice in choices.items():
            if name in params:
                value = params[name]
                if value not in choice.values:
                    raise SearchSpaceError(
                        f"{name}: {value!r} is not allowed; allowed: {list(choice.values)}"
                    )
                # The declared value, so NumPy scalars or 6.0-for-6 from a tuner become plain types.
                value = choice.values[choice.values.index(value)]
            elif len(choice.values) == 1:
                value = choice.values[0]
            else:
                raise SearchSpaceError(f"{name}: missing; allowed: {list(choice.values)}")
            values[name] = value
        width = values["width"]
        stages = tuple(
            stage.stage(
                width,
                **{key: values[f"stage{index}_{key}"] for key in _STAGE_CHOICE_KEYS},
            )
            for index, stage in enumerate(self.stages, start=1)
        )
        return Architecture(
            resolution=values["resolution"],
            channels=self.channels,
            num_classes=self.num_classes,
            stem=dataclasses.replace(self.stem, channels=scale_stem(self.stem.channels, width)),
            stages=stages,
            head=dataclasses.replace(self.head, channels=scale_head(self.head.channels, width)),
        )

    def _sample(self, suggest: Callable[[str, list[Any]], Any]) -> Architecture:
        return self.architecture({c.name: suggest(c.name, list(c.values)) for c in self.parameters()})

    # ----- thin adapters ----------------------------------------------------------------------
    def sample_optuna(self, trial: Any) -> Architecture:
        """Sample through an Optuna trial (``suggest_categorical``); works with ``FixedTrial``."""
        return self._sample(trial.suggest_categorical)

    def sample_keras_tuner(self, hp: Any) -> Architecture:
        """Sample through KerasTuner ``HyperParameters`` (``hp.Choice``)."""
        return self._sample(lambda name, values: hp.Choice(name, values))

    def ray_param_space(self) -> dict[str, Any]:
        """The Ray Tune ``param_space``: one ``tune.choice`` per parameter."""
        from ray import tune

        return {c.name: tune.choice(list(c.values)) for c in self.parameters()}

    def sample_ray(self, config: Mapping[str, Any]) -> Architecture:
        """The architecture for a Ray Tune trial ``config`` (extra keys are ignored)."""
        return self._sample(lambda name, values: _config_value(config, name))

    from_ray_config = sample_ray

    # ----- size and membership ---------------------------------------------------------------
    def size(self) -> int:
        """Number of distinct architectures (choices that round to the same channels count once)."""
        per_width: dict[float, tuple[frozenset, ...]] = {}
        for width in self.width:
            components: list[frozenset] = [
                frozenset({scale_stem(self.stem.channels, width)}),
                frozenset({scale_head(self.head.channels, width)}),
            ]
            for stage in self.stages:
                components.append(
                    frozenset(stage.stage(width, **combo) for combo in stage.combinations())
                )
            per_width[width] = tuple(components)
        # Union of product sets by inclusion-exclusion; product sets intersect componentwise.
        distinct = 0
        widths = list(per_width)
        for count in range(1, len(widths) + 1):
            for subset in itertools.combinations(widths, count):
                term = 1
                for parts in zip(*(per_width[w] for w in subset)):
                    term *= len(frozenset.intersection(*parts))
                    if not term:
                        break
                distinct += term if count % 2 else -term
        return distinct * len(self.resolution)

    def choices_of(self, arch: Architecture) -> dict[str, Any]:
        """Parameters that give ``arch`` (for ``study.enqueue_trial``); raises if it is not a point."""
        mismatch = self._input_mismatch(arch)
        if mismatch:
            raise SearchSpaceError(f"architecture is not a point of space {self.name!r}: {mismatch}")
        reasons = []
        for width in self.width:
            found = self._stage_values(arch, width)
            if isinstance(found, str):
                reasons.append(f"width {width}: {found}")
                continue
            params = {"resolution": arch.resolution, "width": width, **found}
            names = {c.name for c in self.parameters()}
            params = {k: v for k, v in params.items() if k in names}
            if self.architecture(params) == arch:
                return params
        raise SearchSpaceError(
            f"architecture is not a point of space {self.name!r}: " + "; ".join(reasons)
        )

    def _input_mismatch(self, arch: Architecture) -> str:
        if arch.resolution not in self.resolution:
            return f"resolution {arch.resolution} not in {list(self.resolution)}"
        if (arch.channels, arch.num_classes) != (self.channels, self.num_classes):
            return (
                f"input {arch.channels} channels / {arch.num_classes} classes, space has "
                f"{self.channels} / {self.num_classes} (use Architecture.with_input)"
            )
        if len(arch.stages) != len(self.stages):
            return f"{len(arch.stages)} stages, space has {len(self.stages)}"
        return ""

    def _stage_values(self, arch: Architecture, width: float) -> dict[str, Any] | str:
        stem = dataclasses.replace(self.stem, channels=scale_stem(self.stem.channels, width))
        if arch.stem != stem:
            return f"stem {_describe(arch.stem)} != {_describe(stem)}"
        head = dataclasses.replace(self.head, channels=scale_head(self.head.channels, width))
        if arch.head != head:
            return f"head {_describe(arch.head)} != {_describe(head)}"
        found: dict[str, Any] = {}
        for index, (choices, stage) in enumerate(zip(self.stages, arch.stages), start=1):
            match = next(
                (c for c in choices.combinations() if choices.stage(width, **c) == stage), None
            )
            if match is None:
                return f"stage {index} {stage.to_string()} is not reachable"
            found.update({f"stage{index}_{key}": value for key, value in match.items()})
        return found


# ----- validation helpers --------------------------------------------------------------------
_KINDS: dict[str, type] = {
    "block": str,
    "expansion": int,
    "kernel": int,
    "width": float,
    "depth": int,
    "se_ratio": float,
    "activation": str,
}


# A valid value for every stage choice, so that each allowed value can be checked on its own.
_VALID_STAGE_VALUES: dict[str, Any] = {
    "block": "mbconv",
    "expansion": 1,
    "kernel": 3,
    "width": 1.0,
    "depth": 1,
    "se_ratio": 0.0,
    "activation": "relu6",
}


def _mapping(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise SearchSpaceError(f"{where}: expected a mapping, got {value!r}")
    return value


def _check_keys(
    where: str, data: Mapping[str, Any], allowed: Sequence[str], required: Sequence[str] = ()
) -> None:
    for key in data:
        if key not in allowed:
            raise SearchSpaceError(
                f"{where}: unknown key {key!r}; allowed keys: {', '.join(allowed)}"
            )
    for key in required:
        if key not in data:
            raise SearchSpaceError(f"{where}: missing key {key!r}")


def _scalar(value: Any, where: str, kind: type) -> Any:
    if isinstance(value, bool):
        raise SearchSpaceError(f"{where}: expected {kind.__name__}, got {value!r}")
    if kind is float and isinstance(value, int):
        return float(value)
    if not isinstance(value, kind):
        raise SearchSpaceError(f"{where}: expected {kind.__name__}, got {value!r}")
    return value


def _as_choices(value: Any, where: str, kind: type) -> tuple[Any, ...]:
    values = value if isinstance(value, (list, tuple)) else [value]
    if not values:
        raise SearchSpaceError(f"{where}: needs at least one value")
    out = tuple(_scalar(v, where, kind) for v in values)
    if len(set(out)) != len(out):
        raise SearchSpaceError(f"{where}: duplicate values in {list(out)}")
    return out


def _validate_space(space: SearchSpace) -> None:
    """Check every allowed value on its own; all combinations are then valid architectures."""
    if not space.stages:
        raise SearchSpaceError("stages: at least one stage is required")
    if not space.resolution or not space.width:
        raise SearchSpaceError("resolution and width need at least one value each")
    for width in space.width:
        if not isinstance(width, float) or width <= 0:
            raise SearchSpaceError(f"width: values must be positive floats, got {width!r}; "
                                   "allowed: numbers > 0, e.g. 0.35, 0.5, 1.0")
    allowed = {"block": BLOCK_TYPES, "activation": ACTIVATIONS}
    for index, stage in enumerate(space.stages, start=1):
        where = f"stages[{index}]"
        if isinstance(stage.channels, bool) or not isinstance(stage.channels, int) or stage.channels <= 0:
            raise SearchSpaceError(f"{where}.channels: must be a positive integer, got {stage.channels!r}")
        if stage.stride not in (1, 2) or isinstance(stage.stride, bool):
            raise SearchSpaceError(f"{where}.stride: must be 1 or 2, got {stage.stride!r}")
        for key in ("block", "activation"):
            for value in getattr(stage, key):
                if value not in allowed[key]:
                    raise SearchSpaceError(
                        f"{where}.{key}: {value!r} is not allowed; allowed values: "
                        f"{', '.join(allowed[key])}"
                    )
        for value in stage.width:
            if not isinstance(value, float) or value <= 0:
                raise SearchSpaceError(f"{where}.width: values must be positive, got {value!r}; "
                                       f"allowed: {_ALLOWED_TEXT['width']}")
        for key in _STAGE_CHOICE_KEYS:
            for value in getattr(stage, key):
                try:
                    stage.stage(1.0, **(_VALID_STAGE_VALUES | {key: value}))
                except ArchitectureError as error:
                    detail = str(error).split(": ", 1)[-1]
                    raise SearchSpaceError(
                        f"{where}.{key}: {value!r} is not allowed ({detail})"
                        + (f"; allowed: {_ALLOWED_TEXT[key]}" if key in _ALLOWED_TEXT else "")
                    ) from None
    for resolution in space.resolution:
        try:
            SearchSpace.architecture(space, {"resolution": resolution} | _first_params(space))
        except ArchitectureError as error:
            raise SearchSpaceError(f"resolution: {resolution!r} is not allowed ({error})") from None


def _first_params(space: SearchSpace) -> dict[str, Any]:
    return {c.name: c.values[0] for c in space.all_choices() if c.name != "resolution"}


def _describe(spec: StemSpec | HeadSpec) -> str:
    return ", ".join(f"{f.name}={getattr(spec, f.name)}" for f in dataclasses.fields(spec))


def _config_value(config: Mapping[str, Any], name: str) -> Any:
    try:
        return config[name]
    except KeyError:
        raise SearchSpaceError(f"Ray config has no {name!r}") from None

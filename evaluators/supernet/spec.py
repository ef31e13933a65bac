"""What a trained supernet is for (:class:`SupernetSpec`) and how it is trained (:class:`SupernetTrainConfig`).

No TensorFlow here: a study can check that a stored supernet fits its space and dataset before any
model is built.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from typing import Any

from search_spaces.space import SearchSpace

__all__ = ["ELASTIC_KINDS", "SupernetError", "SupernetSpec", "SupernetTrainConfig", "elastic_kind",
           "space_fingerprint"]

# The kinds of choice a progressive-shrinking epoch can make elastic (SupernetTrainConfig.shrinking);
# "width" covers the overall width and the stage widths.
ELASTIC_KINDS = ("resolution", "width", "block", "expansion", "kernel", "depth", "se_ratio", "activation")


def elastic_kind(parameter: str) -> str:
    """The kind of a space parameter: ``stage3_se_ratio`` -> ``se_ratio``, ``width`` -> ``width``."""
    return parameter if parameter in ("width", "resolution") else parameter.split("_", 1)[1]


class SupernetError(ValueError):
    """A supernet does not fit the request (another space or dataset, a subnet outside it, an
    unfinished or damaged training folder); the message is one line naming the mismatch."""


def space_fingerprint(space: SearchSpace) -> str:
    """SHA-256 of the space's canonical ``to_dict()`` JSON (resolutions, channels and classes included)."""
    text = json.dumps(space.to_dict(), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclasses.dataclass(frozen=True)
class SupernetSpec:
    """The space and dataset a supernet was trained for; two specs must be equal to share weights."""

    space_fingerprint: str
    space_name: str
    dataset_name: str
    resolutions: tuple[int, ...]
    channels: int
    num_classes: int

    @classmethod
    def for_space(cls, space: SearchSpace, dataset_name: str) -> SupernetSpec:
        return cls(space_fingerprint=space_fingerprint(space), space_name=space.name, dataset_name=dataset_name,
                   resolutions=tuple(space.resolution), channels=space.channels, num_classes=space.num_classes)

    def differences(self, other: SupernetSpec) -> list[str]:
        """One ``field: this != other`` text per differing field (empty when the specs are equal)."""
        out = []
        for field in dataclasses.fields(self):
            mine, theirs = getattr(self, field.name), getattr(other, field.name)
            if mine != theirs:
                if field.name == "space_fingerprint":
                    mine, theirs = mine[:12], theirs[:12]
                out.append(f"{field.name}: {mine!r} != {theirs!r}")
        return out

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self) | {"resolutions": list(self.resolutions)}

    @classmethod
    def from_dict(cls, data: Any) -> SupernetSpec:
        names = {f.name for f in dataclasses.fields(cls)}
        if not isinstance(data, dict) or set(data) != names:
            raise SupernetError(f"supernet spec: expected the keys {sorted(names)}, got {data!r:.200}")
        return cls(**(data | {"resolutions": tuple(data["resolutions"])}))


@dataclasses.dataclass(frozen=True)
class SupernetTrainConfig:
    """Supernet training settings (sandwich rule and in-place distillation, Yu et al. 2020 "BigNAS";
    Yu & Huang 2019 "Universally Slimmable Networks").

    Every step trains the largest subnet on the labels, then the smallest and
    ``sandwich_random_subnets`` random ones on the largest's soft predictions (``distillation``) or
    on the labels. ``train_fraction`` keeps that share of the training batches each epoch. The
    optimizer is AdamW with linear warm-up over ``warmup_epochs`` and cosine decay
    (:func:`evaluators.training.make_optimizer`). ``bn_momentum`` is Keras' convention (weight of the
    old moving statistic).

    ``shrinking`` is progressive shrinking (Cai et al. 2020, "Once-for-All", section 3.2): one entry per
    leading epoch, the kinds of choice that are elastic in it (``resolution``, ``width``, ``block``,
    ``expansion``, ``kernel``, ``depth``, ``se_ratio``, ``activation``); the other choices stay at the
    largest subnet's value, and an epoch with none trains the largest subnet alone. Each entry must hold
    the kinds of the one before, and the epochs after the list have every choice elastic. Empty (the
    default): every epoch is the plain sandwich rule.
    """

    epochs: int
    batch_size: int
    learning_rate: float
    sandwich_random_subnets: int = 2
    distillation: bool = True
    seed: int = 0
    train_fraction: float = 1.0
    warmup_epochs: float = 0.5
    weight_decay: float = 1e-2
    label_smoothing: float = 0.1
    bn_momentum: float = 0.9
    shrinking: tuple[tuple[str, ...], ...] = ()

    def __post_init__(self) -> None:
        _positive_int("epochs", self.epochs)
        object.__setattr__(self, "shrinking", _shrinking(self.shrinking, self.epochs))
        _positive_int("batch_size", self.batch_size)
        if isinstance(self.sandwich_random_subnets, bool) or not isinstance(self.sandwich_random_subnets, int) \
                or self.sandwich_random_subnets < 0:
            raise ValueError(f"sandwich_random_subnets must be an integer >= 0, got {self.sandwich_random_subnets!r}")
        if not isinstance(self.learning_rate, (int, float)) or not self.learning_rate > 0:
            raise ValueError(f"learning_rate must be > 0, got {self.learning_rate!r}")
        if not isinstance(self.distillation, bool):
            raise ValueError(f"distillation must be true or false, got {self.distillation!r}")
        if not isinstance(self.seed, int) or isinstance(self.seed, bool):
            raise ValueError(f"seed must be an integer, got {self.seed!r}")
        if not 0.0 < self.train_fraction <= 1.0:
            raise ValueError(f"train_fraction must be in (0, 1], got {self.train_fraction!r}")
        if self.warmup_epochs < 0 or self.weight_decay < 0:
            raise ValueError(f"warmup_epochs and weight_decay must be >= 0, got {self.warmup_epochs!r}, "
                             f"{self.weight_decay!r}")
        if not 0.0 <= self.label_smoothing < 1.0:
            raise ValueError(f"label_smoothing must be in [0, 1), got {self.label_smoothing!r}")
        if not 0.0 < self.bn_momentum < 1.0:
            raise ValueError(f"bn_momentum must be in (0, 1), got {self.bn_momentum!r}")

    def elastic_at(self, epoch: int) -> frozenset[str] | None:
        """The kinds elastic in ``epoch`` (0-based) under ``shrinking``; None: every choice."""
        return frozenset(self.shrinking[epoch]) if epoch < len(self.shrinking) else None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self) | {"shrinking": [list(kinds) for kinds in self.shrinking]}

    @classmethod
    def from_dict(cls, data: Any) -> SupernetTrainConfig:
        names = {f.name for f in dataclasses.fields(cls)}
        if not isinstance(data, dict) or not set(data) <= names:
            raise SupernetError(f"supernet training config: unknown keys in {data!r:.200}")
        return cls(**data)


def _shrinking(value: Any, epochs: int) -> tuple[tuple[str, ...], ...]:
    """``value`` as a tuple of kind tuples, or a ValueError naming what is wrong with it."""
    if not isinstance(value, (list, tuple)) or not all(isinstance(kinds, (list, tuple)) for kinds in value):
        raise ValueError(f"shrinking must be a list of lists of kinds (one per leading epoch), got {value!r:.120}")
    phases = tuple(tuple(kinds) for kinds in value)
    for epoch, kinds in enumerate(phases, start=1):
        unknown = [k for k in kinds if k not in ELASTIC_KINDS]
        if unknown:
            raise ValueError(f"shrinking, epoch {epoch}: unknown kind(s) {unknown}; known: {', '.join(ELASTIC_KINDS)}")
        if epoch > 1 and not set(phases[epoch - 2]) <= set(kinds):
            raise ValueError(f"shrinking, epoch {epoch}: drops {sorted(set(phases[epoch - 2]) - set(kinds))}; "
                             "each epoch must keep the kinds of the one before")
    if len(phases) >= epochs:
        raise ValueError(f"shrinking lists {len(phases)} epoch(s) of {epochs}: leave at least the last epoch with "
                         "every choice elastic")
    return phases


def _positive_int(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {value!r}")

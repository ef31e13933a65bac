"""One trial of a search as a typed, frozen value, and its form as Optuna user attributes.

The Optuna study is the record of a search (docs/interfaces.md, "Study record"). Each trial keeps
its architecture, measurements and provenance as user attributes, so ``optuna-dashboard`` and the
``optuna`` CLI read a study without our code. This module is the only place that spells those
attribute names: everything else reads and writes a :class:`TrialRecord`.

Studies written by earlier versions open unchanged: keys this version does not know are kept in
``extra`` and written back as they were.
"""

from __future__ import annotations

import dataclasses
import enum
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from optuna.trial import FrozenTrial, TrialState

# Values of TrialRecord.accuracy_source.
ACCURACY_TRAINED, ACCURACY_INHERITED = "trained", "inherited"
ACCURACY_SOURCES = (ACCURACY_TRAINED, ACCURACY_INHERITED)


class TrialStatus(str, enum.Enum):
    """What became of a trial's candidate (the ``status`` attribute)."""

    COMPLETE = "complete"        # trained, int8 model evaluated
    INFEASIBLE = "infeasible"    # broke a latency/size constraint before training: not trained
    FAILED = "failed"            # the candidate failed (diverged, did not convert, crashed the profiler)
    INTERRUPTED = "interrupted"  # its process died or the search stopped; retried as a new trial
    PRUNED = "pruned"            # stopped early at a rung (kept out of the front and exports)

    def __str__(self) -> str:
        return self.value


@dataclasses.dataclass(frozen=True)
class WorkerIdentity:
    """Who ran a trial: host, process id and process start time (a reused pid is not mistaken)."""

    host: str
    pid: int
    started: int | None = None
    ray_node_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out = {"host": self.host, "pid": self.pid, "started": self.started}
        if self.ray_node_id is not None:
            out["ray_node_id"] = self.ray_node_id
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> WorkerIdentity | None:
        if not data:
            return None
        return cls(host=str(data.get("host", "")), pid=int(data.get("pid", -1)),
                   started=data.get("started"), ray_node_id=data.get("ray_node_id"))


@dataclasses.dataclass(frozen=True)
class TrialRecord:
    """Everything one trial records. Field names are the user-attribute names; units are in them.

    ``size_bytes`` is the int8 ``.tflite`` of the trained (deployed) model once trained, else of the
    untrained one; ``latency_ms_p50`` the median on the profiling device; ``accuracy_int8`` the
    validation accuracy of the int8 model through LiteRT (``None`` when not trained).
    """

    architecture: str | None = None
    status: TrialStatus | None = None
    is_reference: bool = False
    reference_name: str | None = None
    reused_from: int | None = None
    retry_of: int | None = None
    worker: WorkerIdentity | None = None
    failure_reason: str | None = None
    failure_stage: str | None = None
    constraint_violations: tuple[str, ...] = ()
    proxy_epochs: int | None = None
    # Early stopping (MO-ASHA): Keras validation accuracy at each rung reached (epoch -> accuracy), and
    # the rung where the training was stopped (None: not stopped; the trial is PRUNED when set).
    rung_accuracies: Mapping[int, float] = dataclasses.field(default_factory=dict)
    stopped_at_epoch: int | None = None
    epochs_trained: int | None = None  # with early stopping: the rung reached (stop, or the full budget)
    trained: bool = False
    accuracy_int8: float | None = None
    # Where accuracy_int8 comes from (ACCURACY_SOURCES): the trial's own proxy training, or weights
    # inherited from a supernet (issue 16); None in studies recorded before (their accuracy is trained).
    # ``inherited_from``: for inherited accuracy, the supernet's folder, fingerprint and training provenance.
    accuracy_source: str | None = None
    inherited_from: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    size_bytes: int | None = None
    size_bytes_untrained: int | None = None
    latency_ms_p50: float | None = None
    latency_ms: Mapping[str, float] = dataclasses.field(default_factory=dict)
    latency_source: str | None = None
    params: int | None = None
    macs: int | None = None
    device: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    profiler: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    versions: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    metrics: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    timings_s: Mapping[str, float] = dataclasses.field(default_factory=dict)
    artifacts: Mapping[str, str] = dataclasses.field(default_factory=dict)
    mnasnet_reward: float | None = None
    ray_trial_id: str | None = None
    keras_tuner_trial_id: str | None = None
    extra: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    # -- reading -------------------------------------------------------------------------------
    @classmethod
    def from_user_attrs(cls, attrs: Mapping[str, Any]) -> TrialRecord:
        """The record of a trial from its user attributes (any version's; unknown keys go to ``extra``)."""
        known = {f.name for f in dataclasses.fields(cls)} - {"extra"}
        values: dict[str, Any] = {k: v for k, v in attrs.items() if k in known and v is not None}
        extra = {k: v for k, v in attrs.items() if k not in known}
        if "status" in values:
            values["status"] = _status(values["status"])
            if values["status"] is None:  # a status this version does not know: kept as it was
                extra["status"] = attrs["status"]
        if "worker" in values:
            values["worker"] = WorkerIdentity.from_dict(values["worker"])
        if "rung_accuracies" in values:  # JSON keys are strings
            values["rung_accuracies"] = {int(k): float(v) for k, v in values["rung_accuracies"].items()}
        values["constraint_violations"] = tuple(values.get("constraint_violations") or ())
        for name in ("is_reference", "trained"):
            values[name] = bool(values.get(name, False))
        return cls(**values, extra=extra)

    @classmethod
    def from_trial(cls, trial: FrozenTrial) -> TrialRecord:
        return cls.from_user_attrs(trial.user_attrs)

    # -- writing -------------------------------------------------------------------------------
    def to_user_attrs(self) -> dict[str, Any]:
        """JSON-ready user attributes (the exact keys a study stores).

        Every field is written (``None`` when unset), then the keys of ``extra``; a field left
        ``None`` whose key ``extra`` holds (a value this version could not read) keeps that value.
        """
        out: dict[str, Any] = dict(self.extra)
        for f in dataclasses.fields(self):
            if f.name == "extra":
                continue
            value = getattr(self, f.name)
            if value is None and f.name in self.extra:
                continue
            if f.name == "status" and value is not None:
                value = value.value
            elif f.name == "worker" and value is not None:
                value = value.to_dict()
            out[f.name] = value
        return to_jsonable(out)

    def replace(self, **changes: Any) -> TrialRecord:
        """A copy with ``changes`` (``dataclasses.replace``)."""
        return dataclasses.replace(self, **changes)

    # -- questions -----------------------------------------------------------------------------
    @property
    def holds_result(self) -> bool:
        """Complete, infeasible or a recorded candidate failure (status alone; see :func:`is_done`)."""
        return self.status in (TrialStatus.COMPLETE, TrialStatus.INFEASIBLE, TrialStatus.FAILED)

    @property
    def accuracy_origin(self) -> str | None:
        """``accuracy_source``, with studies recorded before it existed read as trained (None: no accuracy)."""
        if self.accuracy_source is not None:
            return self.accuracy_source
        return ACCURACY_TRAINED if self.trained else None

    @property
    def feasible(self) -> bool:
        return self.status not in (TrialStatus.INFEASIBLE, TrialStatus.FAILED) and not self.constraint_violations


# Attributes that describe the trial itself rather than the architecture's results: a trial that
# reuses an earlier trial's results copies everything else.
OWN_FIELDS = ("is_reference", "reference_name", "retry_of", "worker", "ray_trial_id", "keras_tuner_trial_id")
NOT_COPIED_FIELDS = (*OWN_FIELDS, "reused_from", "timings_s")


def own_attrs(attrs: Mapping[str, Any]) -> dict[str, Any]:
    """The attributes of ``attrs`` that belong to the trial itself (see :data:`OWN_FIELDS`)."""
    return {k: v for k, v in attrs.items() if k in OWN_FIELDS}


def is_done(trial: FrozenTrial) -> bool:
    """A trial that holds a result: complete (or infeasible), or a recorded candidate failure
    (or a trial stopped early at a rung). Interrupted and running trials hold none."""
    if trial.state == TrialState.COMPLETE:
        return True
    if trial.state not in (TrialState.FAIL, TrialState.PRUNED):
        return False
    return TrialRecord.from_trial(trial).status in (TrialStatus.FAILED, TrialStatus.PRUNED)


def set_fields(trial: Any, **fields: Any) -> None:
    """Write only the named fields of the trial record into the Optuna ``trial`` (names are
    :class:`TrialRecord` fields), in their user-attribute form."""
    attrs = TrialRecord(**fields).to_user_attrs()
    for name in fields:
        trial.set_user_attr(name, attrs[name])


def _status(value: Any) -> TrialStatus | None:
    try:
        return TrialStatus(value)
    except ValueError:
        return None


def to_jsonable(value: Any) -> Any:
    """Plain JSON types for user attributes (NumPy scalars and arrays, tuples, Paths, NaN -> None)."""
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, enum.Enum):
        return to_jsonable(value.value)
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "tolist") and not isinstance(value, (str, bytes)):
        return to_jsonable(value.tolist())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    return str(value)

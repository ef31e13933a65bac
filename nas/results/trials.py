"""The trials of a study as a table (`nas trials`, the end of `nas search`) or as JSON.

Rows are read through :class:`nas.record.trial_record.TrialRecord`, so studies of every version give
the same columns. ``size_kib`` is the int8 file in KiB (1024 bytes).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from nas.record.trial_record import TrialRecord, is_done


@dataclasses.dataclass(frozen=True)
class TrialRow:
    """The short columns of one trial (the table `nas trials` prints)."""

    trial: int
    state: str
    status: str | None
    reference: str
    accuracy_int8: float | None
    accuracy_source: str | None  # trained | inherited (from a supernet)
    latency_ms_p50: float | None
    size_kib: float | None
    params: int | None
    macs: int | None
    reused_from: int | None
    rung: int | None  # early stopping: epochs trained (the rung where it stopped, or the full budget)
    violations: str
    duration_s: float | None
    architecture: str | None

    @classmethod
    def of(cls, trial: Any, record: TrialRecord) -> TrialRow:
        total = record.timings_s.get("total")
        return cls(
            trial=trial.number,
            state=trial.state.name,
            status=None if record.status is None else record.status.value,
            reference=(record.reference_name or "") if record.is_reference else "",
            accuracy_int8=record.accuracy_int8,
            accuracy_source=record.accuracy_origin,
            latency_ms_p50=record.latency_ms_p50,
            size_kib=None if record.size_bytes is None else round(record.size_bytes / 1024, 1),
            params=record.params,
            macs=record.macs,
            reused_from=record.reused_from,
            rung=record.epochs_trained,
            violations=",".join(record.constraint_violations),
            duration_s=None if total is None else round(total, 1),
            architecture=record.architecture,
        )


SHORT_COLUMNS = [f.name for f in dataclasses.fields(TrialRow)]
# Integer columns that may have gaps: shown as <NA>, not 1.0e+06 / NaN.
_INTEGER_COLUMNS = ("params", "macs", "reused_from", "rung", "size_bytes", "retry_of")


@dataclasses.dataclass(frozen=True)
class TrialDetails:
    """The columns the full table (``nas trials --csv``) adds after the short ones."""

    size_bytes: int | None
    failure_reason: str | None
    retry_of: int | None
    mnasnet_reward: float | None
    values: list[float] | None

    @classmethod
    def of(cls, trial: Any, record: TrialRecord) -> TrialDetails:
        return cls(size_bytes=record.size_bytes, failure_reason=record.failure_reason, retry_of=record.retry_of,
                   mnasnet_reward=record.mnasnet_reward, values=trial.values)


def _full_row(trial: Any, record: TrialRecord) -> dict[str, Any]:
    """Short and detail columns, then one column per latency statistic, timing, scalar metric, artifact."""
    row = dataclasses.asdict(TrialRow.of(trial, record)) | dataclasses.asdict(TrialDetails.of(trial, record))
    for prefix, values in (("latency_ms", record.latency_ms), ("time_s", record.timings_s)):
        row.update({f"{prefix}_{key}": value for key, value in values.items()})
    row.update({f"metric_{key}": value for key, value in record.metrics.items()
                if not isinstance(value, (list, dict))})
    row.update({f"artifact_{key}": value for key, value in record.artifacts.items()})
    row.update({f"inherited_from_{key}": value for key, value in record.inherited_from.items()})  # supernet
    return row


def trials_table(study: Any, *, full: bool = False, include_unfinished: bool = False):
    """A pandas DataFrame with one row per trial; ``full`` adds every metric, timing and path."""
    import pandas as pd

    rows = []
    for trial in study.get_trials(deepcopy=False):
        if not include_unfinished and not is_done(trial):
            continue
        record = TrialRecord.from_trial(trial)
        rows.append(_full_row(trial, record) if full else dataclasses.asdict(TrialRow.of(trial, record)))
    frame = pd.DataFrame(rows)
    if frame.empty:
        return pd.DataFrame(columns=SHORT_COLUMNS)
    for column in _INTEGER_COLUMNS:
        if column in frame:
            frame[column] = pd.array([None if v is None or v != v else int(v) for v in frame[column]],
                                     dtype="Int64")
    return frame


@dataclasses.dataclass(frozen=True)
class TrialDump:
    """One trial as `nas trials --json` writes it: Optuna's fields and every user attribute as stored."""

    number: int
    state: str
    values: list[float] | None
    params: dict[str, Any]
    constraints: list[float] | None
    datetime_start: str | None
    datetime_complete: str | None
    user_attrs: dict[str, Any]

    @classmethod
    def of(cls, t: Any) -> TrialDump:
        return cls(number=t.number, state=t.state.name, values=t.values, params=t.params, constraints=t.constraints,
                   datetime_start=t.datetime_start.isoformat() if t.datetime_start else None,
                   datetime_complete=t.datetime_complete.isoformat() if t.datetime_complete else None,
                   user_attrs=t.user_attrs)


def trials_json(study: Any) -> list[dict[str, Any]]:
    """Every trial with its state, params, values, constraints and all user attributes as stored."""
    return [dataclasses.asdict(TrialDump.of(t)) for t in study.get_trials(deepcopy=False)]


__all__ = ["SHORT_COLUMNS", "TrialDetails", "TrialDump", "TrialRow", "trials_json", "trials_table"]

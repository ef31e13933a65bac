"""nas.record.points: ModelPoints and the JSON trial summary read from TrialRecords, legacy study included."""

from __future__ import annotations

import json
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from nas.record import (
    OBJECTIVES,
    StudyAttributes,
    TrialRecord,
    TrialStatus,
    distinct,
    point_from_attrs,
    point_from_record,
    study_device,
    study_dir,
    study_objectives,
    study_points,
    trial_summary,
)

SUMMARY_KEYS = ["trial", "state", "status", "is_reference", "architecture", "accuracy_int8", "latency_ms_p50",
                "size_bytes", "reused_from", "constraint_violations", "failure_reason", "duration_s", "values"]


def test_legacy_study_points(legacy_study):
    points = study_points(legacy_study)
    assert [p.trial_number for p in points] == [0, 1, 2]  # trial 3 is still RUNNING
    reference = points[0]
    assert reference.label == "trial 0" and reference.baseline == "mobilenet_v2_0.35" and reference.is_mobilenet_v2
    assert reference.feasible and reference.accuracy is not None and reference.size_bytes > 0
    assert reference.extra["status"] == "complete" and "tflite_int8" in reference.extra["artifacts"]
    assert study_device(points)["hostname"] == "vm"
    assert study_objectives(legacy_study) == OBJECTIVES
    assert study_dir(legacy_study) == Path("/tmp/legacy_runs/legacy")
    assert study_dir(legacy_study, runs_dir="elsewhere") == Path("elsewhere/legacy")


def test_point_from_attrs_of_an_old_results_file():
    """Dicts of results files written by earlier versions: no ``trained`` flag means trained."""
    attrs = {"architecture": "a", "accuracy_int8": 0.8, "latency_ms_p50": 2, "size_bytes": 1000.0,
             "is_reference": True, "reference_name": "mobilenet_v2_0.5", "status": "complete"}
    point = point_from_attrs(None, attrs)
    assert point.label == "a" and point.accuracy == 0.8 and point.latency_ms_p50 == 2.0 and point.size_bytes == 1000
    assert point.baseline == "mobilenet_v2_0.5" and point.trial_number is None
    assert point_from_attrs(4, {**attrs, "trained": False}).accuracy is None
    assert point_from_attrs(4, attrs, label="x").label == "x"


def test_point_from_record():
    infeasible = TrialRecord(architecture="b", status=TrialStatus.INFEASIBLE, latency_ms_p50=9.0, size_bytes=5,
                             constraint_violations=("max_latency_ms",), reused_from=1)
    point = point_from_record(7, infeasible)
    assert not point.feasible and point.accuracy is None and point.label == "trial 7"
    assert point.extra == {"status": "infeasible", "reused_from": 1}
    assert distinct([point]) == []
    assert not point_from_record(1, TrialRecord(architecture="c", status=TrialStatus.FAILED)).feasible


def test_study_objectives_of_a_search(study):
    study.set_user_attr("objectives", ["accuracy", "latency"])
    assert study_objectives(study) == {"accuracy": "maximize", "latency_ms_p50": "minimize"}
    study.set_user_attr("objectives", ["speed"])
    with pytest.raises(ValueError, match="not known"):
        study_objectives(study)
    study.set_user_attr("study_dir", "/somewhere/s")
    assert study_dir(study) == Path("/somewhere/s") == StudyAttributes.from_study(study).study_dir


def _old_trial_summary(trial):
    """The summary as nas/strategies/_progress.py wrote it before the move (nas search --json lines)."""
    attrs = trial.user_attrs
    return {
        "trial": trial.number, "state": trial.state.name, "status": attrs.get("status"),
        "is_reference": bool(attrs.get("is_reference")), "architecture": attrs.get("architecture"),
        "accuracy_int8": attrs.get("accuracy_int8"), "latency_ms_p50": attrs.get("latency_ms_p50"),
        "size_bytes": attrs.get("size_bytes"), "reused_from": attrs.get("reused_from"),
        "constraint_violations": attrs.get("constraint_violations", []),
        "failure_reason": attrs.get("failure_reason"), "duration_s": (attrs.get("timings_s") or {}).get("total"),
        "values": trial.values,
    }


def test_trial_summary_is_the_json_line_of_before(legacy_study, study):
    study.add_trial(optuna.trial.create_trial(state=TrialState.FAIL, user_attrs={
        "architecture": "x", "status": "failed", "failure_reason": "loss diverged", "timings_s": {"total": 1.5}}))
    study.add_trial(optuna.trial.create_trial(state=TrialState.FAIL, user_attrs={"status": "quarantined"}))
    for trial in [*legacy_study.get_trials(), *study.get_trials()]:
        summary = trial_summary(trial)
        assert list(summary) == SUMMARY_KEYS
        assert json.dumps(summary) == json.dumps(_old_trial_summary(trial))

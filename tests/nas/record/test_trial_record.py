"""TrialRecord: the typed trial record converts to and from Optuna user attributes, old studies included."""

from __future__ import annotations

import json

import pytest
from optuna.trial import TrialState

from nas.record import TrialRecord, TrialStatus, WorkerIdentity, is_done

FULL = TrialRecord(
    architecture="in32x1-stem_c16_k3_s2_relu6-ir_r1_k3_s1_e1_c8_relu6-head_c64_relu6-cls10",
    status=TrialStatus.COMPLETE,
    is_reference=True,
    reference_name="mobilenet_v2_0.35",
    retry_of=3,
    worker=WorkerIdentity(host="h", pid=12, started=99, ray_node_id="n1"),
    constraint_violations=("max_latency_ms",),
    proxy_epochs=2,
    trained=True,
    accuracy_int8=0.91,
    size_bytes=12_345,
    size_bytes_untrained=12_000,
    latency_ms_p50=1.5,
    latency_ms={"p50": 1.5, "p90": 1.9},
    latency_source="measured",
    params=1000,
    macs=20_000,
    device={"machine": "pi"},
    timings_s={"total": 3.0},
    artifacts={"tflite_int8": "trials/0/model_int8.tflite"},
    mnasnet_reward=0.88,
    extra={"a_key_of_a_later_version": [1, 2]},
)


@pytest.mark.parametrize("record", [TrialRecord(), FULL, FULL.replace(status=None, worker=None)])
def test_round_trip(record):
    attrs = record.to_user_attrs()
    json.dumps(attrs)  # plain JSON, as Optuna stores it
    assert TrialRecord.from_user_attrs(attrs) == record


def test_unknown_keys_are_kept():
    attrs = {**FULL.to_user_attrs(), "from_the_future": {"x": 1}}
    record = TrialRecord.from_user_attrs(attrs)
    assert record.extra["from_the_future"] == {"x": 1}
    assert record.to_user_attrs() == attrs


def test_an_unknown_status_is_kept_as_it_was():
    record = TrialRecord.from_user_attrs({"status": "quarantined", "architecture": "a"})
    assert record.status is None and record.to_user_attrs()["status"] == "quarantined"
    assert record.replace(status=TrialStatus.FAILED).to_user_attrs()["status"] == "failed"


def test_worker_keeps_its_stored_dict_shape():
    assert WorkerIdentity(host="h", pid=1, started=None).to_dict() == {"host": "h", "pid": 1, "started": None}
    assert WorkerIdentity.from_dict({}) is None


def test_the_legacy_study_trials_load_as_records(legacy_study):
    trials = legacy_study.get_trials()
    records = [TrialRecord.from_trial(t) for t in trials]
    assert [r.status for r in records] == [TrialStatus.COMPLETE] * 3 + [None]
    assert [is_done(t) for t in trials] == [True, True, True, False]
    assert trials[3].state == TrialState.RUNNING and records[3].worker is not None
    reference = records[0]
    assert reference.is_reference and reference.reference_name == "mobilenet_v2_0.35"
    assert reference.trained and 0 <= reference.accuracy_int8 <= 1
    assert reference.latency_ms["p50"] == reference.latency_ms_p50 and reference.size_bytes > 0
    for trial, record in zip(trials, records):
        assert record.to_user_attrs() | trial.user_attrs == record.to_user_attrs()  # nothing stored is lost
        assert {k: v for k, v in record.to_user_attrs().items() if k in trial.user_attrs} == trial.user_attrs

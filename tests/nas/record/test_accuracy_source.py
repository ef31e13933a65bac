"""TrialRecord.accuracy_source and inherited_from (issue 16): written and read back, and studies recorded
before the field existed still load (their trained trials read as trained)."""

from __future__ import annotations

from nas.record.trial_record import ACCURACY_INHERITED, ACCURACY_SOURCES, ACCURACY_TRAINED, TrialRecord


def test_an_inherited_accuracy_round_trips_with_its_supernet() -> None:
    provenance = {"folder": "/runs/s/supernet", "fingerprint": "ab" * 32, "space_fingerprint": "cd" * 32,
                  "epochs": 4, "bn_calibration_images": 500}
    trial = TrialRecord(trained=True, accuracy_int8=0.7, accuracy_source=ACCURACY_INHERITED,
                        inherited_from=provenance)
    attrs = trial.to_user_attrs()
    assert attrs["accuracy_source"] == "inherited" and attrs["inherited_from"] == provenance
    assert TrialRecord.from_user_attrs(attrs) == trial and trial.accuracy_origin == ACCURACY_INHERITED
    assert ACCURACY_SOURCES == ("trained", "inherited")


def test_a_record_from_before_the_field_loads_as_trained() -> None:
    old = {"architecture": "in16x1-...", "status": "complete", "trained": True, "accuracy_int8": 0.9}
    trial = TrialRecord.from_user_attrs(old)
    assert trial.accuracy_source is None and trial.inherited_from == {} and not trial.extra
    assert trial.accuracy_origin == ACCURACY_TRAINED
    untrained = TrialRecord.from_user_attrs({"status": "infeasible", "trained": False})
    assert untrained.accuracy_origin is None


def test_a_study_is_not_resumed_with_the_other_evaluator(tmp_path) -> None:
    import pytest

    from nas.record.storage import default_storage_url
    from nas.record.study import StudyError, create_or_load_study

    kwargs = {"study_name": "s", "storage_url": default_storage_url(tmp_path, "s"), "sampler": None,
              "directions": ["maximize"], "value_names": ["mnasnet_reward"]}
    legacy_config = {"study": {"name": "s"}}  # recorded before the evaluator section: trained
    create_or_load_study(study_attrs={"config": legacy_config}, **kwargs)
    _, created = create_or_load_study(study_attrs={"config": {"evaluator": {"name": "training"}}}, **kwargs)
    assert not created
    with pytest.raises(StudyError, match="measures accuracy with evaluator 'training'; this search uses 'supernet'"):
        create_or_load_study(study_attrs={"config": {"evaluator": {"name": "supernet"}}}, **kwargs)

"""nas.record.study and storage: StudyAttributes, create/resume/open, storage URLs, the trial helpers."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest

from nas.record import (
    StudyAttributes,
    StudyError,
    TrialRecord,
    TrialStatus,
    absolute_storage_url,
    count_done,
    create_or_load_study,
    default_storage_url,
    find_previous,
    has_reference,
    open_study,
    storage_from_url,
)

ATTRIBUTES = StudyAttributes(
    config={"study": {"name": "s"}, "objectives": ["accuracy", "latency"]},
    objectives=("accuracy", "latency"),
    value_names=("accuracy_int8", "latency_ms_p50"),
    strategy="nsga2",
    reference_baseline="mobilenet_v2_0.35",
    study_dir=Path("/runs/s"),
)


@pytest.mark.parametrize("attributes", [StudyAttributes(), ATTRIBUTES, ATTRIBUTES.replace(extra={"note": "x"})])
def test_study_attributes_round_trip(attributes):
    assert StudyAttributes.from_user_attrs(attributes.to_user_attrs()) == attributes


def test_the_legacy_study_attributes(legacy_study):
    attributes = StudyAttributes.from_study(legacy_study)
    assert attributes.objectives == ("accuracy", "latency", "size")
    assert attributes.value_names == ("accuracy_int8", "latency_ms_p50", "size_bytes")
    assert attributes.strategy == "nsga2" and attributes.reference_baseline == "mobilenet_v2_0.35"
    assert attributes.study_dir == Path("/tmp/legacy_runs/legacy") and attributes.config["training"] == {"epochs": 1}
    assert attributes.to_user_attrs() == legacy_study.user_attrs  # stored exactly as the previous main did


def test_create_then_resume_then_refuse_other_objectives(tmp_path):
    url = default_storage_url(tmp_path, "s")
    kwargs = {"study_name": "s", "storage_url": url, "sampler": None}
    study, created = create_or_load_study(directions=["maximize", "minimize"],
                                          value_names=["accuracy_int8", "latency_ms_p50"],
                                          study_attrs=ATTRIBUTES.replace(value_names=()), **kwargs)
    assert created and StudyAttributes.from_study(study) == ATTRIBUTES
    assert set(study.user_attrs) == {"config", "objectives", "value_names", "strategy", "reference_baseline",
                                     "study_dir"}
    _, created = create_or_load_study(directions=["maximize", "minimize"],
                                      value_names=["accuracy_int8", "latency_ms_p50"],
                                      study_attrs={"strategy": "tpe"}, **kwargs)
    assert not created and StudyAttributes.from_study(open_study("s", runs_dir=tmp_path)).strategy == "nsga2"
    with pytest.raises(StudyError, match=r"optimizes \['accuracy_int8', 'latency_ms_p50'\]"):
        create_or_load_study(directions=["maximize"], value_names=["mnasnet_reward"], study_attrs={}, **kwargs)


def test_open_study_messages(tmp_path):
    with pytest.raises(StudyError, match="give a study name"):
        open_study()
    with pytest.raises(StudyError, match="no study 'nope'"):
        open_study("nope", runs_dir=tmp_path)
    journal = f"journal:///{tmp_path}/j/study.log"
    optuna.create_study(study_name="a", storage=storage_from_url(journal))
    assert open_study(storage=journal).study_name == "a"  # the only study in it
    optuna.create_study(study_name="a:ray-proposer", storage=storage_from_url(journal))
    assert open_study(storage=journal).study_name == "a"  # the Ray proposer's study is not the record
    with pytest.raises(StudyError, match="has no study 'other'"):
        open_study("other", storage=journal)


def test_storage_urls(tmp_path, monkeypatch):
    assert default_storage_url("runs", "demo") == "sqlite:///runs/demo/study.db"
    with pytest.raises(StudyError, match="is not a storage URL"):
        storage_from_url("runs/x.db")
    assert isinstance(storage_from_url(str(tmp_path / "x.log")), optuna.storages.JournalStorage)
    assert isinstance(storage_from_url(f"sqlite:///{tmp_path}/new/dir/s.db"), optuna.storages.RDBStorage)
    assert (tmp_path / "new" / "dir").is_dir()
    monkeypatch.chdir(tmp_path)
    assert absolute_storage_url("sqlite:///runs/s.db") == f"sqlite:///{tmp_path}/runs/s.db"
    assert absolute_storage_url("journal:///abs/s.log") == "journal:///abs/s.log"
    assert absolute_storage_url("journal:rel/s.log") == f"journal://{tmp_path}/rel/s.log"
    assert absolute_storage_url("postgresql://u@h/db") == "postgresql://u@h/db"


def _add(study, state, **fields):
    values = [0.5, 1.0] if state == optuna.trial.TrialState.COMPLETE else None
    study.add_trial(optuna.trial.create_trial(state=state, values=values,
                                              user_attrs=TrialRecord(**fields).to_user_attrs()))


def test_trial_helpers_read_the_record(study):
    complete, fail = optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.FAIL
    assert not has_reference(study)
    _add(study, complete, architecture="a", status=TrialStatus.COMPLETE, is_reference=True, proxy_epochs=3)
    _add(study, complete, architecture="a", status=TrialStatus.COMPLETE, reused_from=0, proxy_epochs=3)
    _add(study, fail, architecture="b", status=TrialStatus.FAILED)
    _add(study, fail, architecture="c", status=TrialStatus.INTERRUPTED)
    trials = study.get_trials()
    assert has_reference(study) and count_done(trials) == 3
    assert find_previous(trials, "a", proxy_epochs=3).number == 0
    assert find_previous(trials, "a", proxy_epochs=1) is None  # another training budget
    assert find_previous(trials, "a", exclude=0, proxy_epochs=3) is None  # a reuse is never the source
    assert find_previous(trials, "b").number == 2 and find_previous(trials, "c") is None

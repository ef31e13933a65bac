"""The storage side of a cluster search against a real PostgreSQL server (no Ray): the plain
``postgresql://`` URL, the password from a file, a missing driver, the heartbeat across hosts."""

from __future__ import annotations

import time

import optuna
import pytest
from optuna.trial import TrialState

from nas.config import ConfigError, load_config
from nas.record import storage
from nas.record.errors import StudyError
from nas.record.recovery import heartbeat, recover_interrupted_trials, recover_stale_trials
from nas.record.study import create_or_load_study, open_study
from nas.record.trial_record import TrialRecord, TrialStatus, WorkerIdentity

VALUE_NAMES = ["accuracy_int8", "latency_ms_p50", "size_bytes"]


def _study(url: str, name: str = "s") -> optuna.Study:
    study, created = create_or_load_study(study_name=name, storage_url=url, directions=["maximize", "minimize",
                                          "minimize"], value_names=VALUE_NAMES, sampler=None, study_attrs={})
    assert created
    return study


def test_plain_postgresql_url_with_the_password_from_a_file(postgres):
    url = postgres.new_database("plain_url")
    assert url.startswith("postgresql://") and postgres.password not in url
    assert storage.driver_url(url).startswith("postgresql+psycopg2://")  # the installed driver's dialect
    study = _study(url)
    assert study.metric_names == VALUE_NAMES  # optuna-dashboard shows these, not "Objective 0"
    assert optuna.load_study(study_name="s", storage=storage.storage_from_url(url)).metric_names == VALUE_NAMES


def test_no_driver_is_one_line(postgres, monkeypatch):
    monkeypatch.setattr(storage.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(StudyError) as info:
        storage.storage_from_url(postgres.url)
    message = str(info.value)
    assert "no PostgreSQL driver is installed" in message and "edge-nas[cluster]" in message
    assert "\n" not in message


def test_wrong_password_is_one_line_without_the_password(postgres, tmp_path, monkeypatch):
    wrong = tmp_path / "wrong"
    wrong.write_text("not-the-password")
    monkeypatch.setenv(storage.PASSWORD_FILE_ENV, str(wrong))
    with pytest.raises(StudyError) as info:
        storage.storage_from_url(postgres.url)
    assert "cannot connect" in str(info.value) and "password authentication failed" in str(info.value)
    assert "not-the-password" not in str(info.value) and "\n" not in str(info.value)


def test_a_password_in_the_config_url_is_refused(postgres):
    with_password = postgres.url.replace("nas@", f"nas:{postgres.password}@")
    with pytest.raises(ConfigError) as info:
        load_config(overrides={"study.storage": with_password})
    assert postgres.password not in str(info.value) and "NAS_STORAGE_PASSWORD_FILE" in str(info.value)


def test_a_trial_of_a_dead_host_is_found_by_its_heartbeat(postgres, monkeypatch):
    """A pid says nothing about another host: its stopped heartbeat does (any process finds it)."""
    monkeypatch.setattr(storage, "HEARTBEAT_INTERVAL_S", 1)
    monkeypatch.setattr(storage, "GRACE_PERIOD_S", 2)
    url = postgres.new_database("heartbeat")
    study = _study(url)
    other_host = TrialRecord(worker=WorkerIdentity(host="node-2.example", pid=4242, ray_node_id="ab" * 28))
    gone = study.ask({"x": optuna.distributions.CategoricalDistribution(["a", "b"])})
    for key, value in other_host.to_user_attrs().items():
        if value is not None:
            gone.set_user_attr(key, value)
    alive = study.ask()
    for key, value in TrialRecord(worker=WorkerIdentity(host="node-3.example", pid=1)).to_user_attrs().items():
        if value is not None:
            alive.set_user_attr(key, value)
    with heartbeat(study, gone):
        time.sleep(0.2)  # beat once, then the host "dies"
    assert recover_interrupted_trials(study) == []  # within the grace period it is left to its host
    time.sleep(2.5)
    with heartbeat(study, alive):  # a live trial keeps beating and is never taken for dead
        time.sleep(0.2)
        # any process, with its own connection, finds it
        recovered = recover_interrupted_trials(optuna.load_study(study_name="s",
                                                                 storage=storage.storage_from_url(url)))
        assert recover_stale_trials(study) == []  # already recovered: nothing left stale
    assert recovered == [gone.number]
    trials = optuna.load_study(study_name="s", storage=storage.storage_from_url(url)).get_trials()
    gone_record = TrialRecord.from_trial(trials[gone.number])
    assert trials[gone.number].state == TrialState.FAIL and gone_record.status == TrialStatus.INTERRUPTED
    assert "node-2.example stopped beating" in gone_record.failure_reason
    retry = [t for t in trials if t.state == TrialState.WAITING]
    assert len(retry) == 1 and TrialRecord.from_trial(retry[0]).retry_of == gone.number
    assert retry[0].system_attrs["fixed_params"] == {"x": trials[gone.number].params["x"]}  # same choices
    assert trials[alive.number].state == TrialState.RUNNING


def test_optunas_own_stale_check_calls_our_callback(postgres, monkeypatch):
    """A process that runs Optuna's own ``fail_stale_trials`` (``study.optimize`` does) enqueues the retry."""
    monkeypatch.setattr(storage, "HEARTBEAT_INTERVAL_S", 1)
    monkeypatch.setattr(storage, "GRACE_PERIOD_S", 1)
    url = postgres.new_database("callback")
    study = _study(url)
    trial = study.ask({"x": optuna.distributions.CategoricalDistribution(["a", "b"])})
    with heartbeat(study, trial):
        time.sleep(0.1)
    time.sleep(1.5)
    optuna.storages.fail_stale_trials(study)
    trials = study.get_trials()
    assert trials[trial.number].state == TrialState.FAIL
    assert [TrialRecord.from_trial(t).retry_of for t in trials if t.state == TrialState.WAITING] == [trial.number]


def test_a_url_given_with_its_password_is_never_echoed(postgres):
    """``nas trials --storage postgresql://nas:…@…`` works, and its messages show ``***``."""
    url = postgres.new_database("echo").replace("nas@", f"nas:{postgres.password}@")
    _study(url, "here")
    with pytest.raises(StudyError) as info:
        open_study("elsewhere", url)
    assert "nas:***@127.0.0.1" in str(info.value) and postgres.password not in str(info.value)
    assert storage.redact_url(url) == url.replace(postgres.password, "***")

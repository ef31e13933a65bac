"""A search on a real two-node Ray cluster (127.0.0.1) with a real PostgreSQL storage.

The fake evaluator stands in for training (the point here is the cluster): every trial lands in
PostgreSQL, on both nodes, with its artifacts readable from the head; a file storage is refused
before any trial; a node killed mid-trial loses and duplicates nothing; the database password is in
no stored attribute, printed line or pickled Ray state; optuna-dashboard serves the study with the
three objective names. Tests of this module share one cluster; the node-killing test runs last.
"""

from __future__ import annotations

import dataclasses
import io
import json
import logging
import os
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from nas.cli import main
from nas.cli._search import execute, format_summary, resume_command
from nas.config import ConfigError, load_config
from nas.record.artifacts import download_trial_artifact, download_trial_files
from nas.record.storage import driver_url, storage_from_url
from nas.record.study import count_done, open_study
from nas.record.trial_record import TrialRecord, TrialStatus
from nas.strategies import run_search
from tests.nas.cluster.cluster_fakes import ClusterFakeEvaluator, CrashingEvaluator
from tests.nas.cluster.conftest import _free_port, _pg_bin

VALUE_NAMES = ["accuracy_int8", "latency_ms_p50", "size_bytes"]


def _config(postgres, tmp_path: Path, database: str, **overrides):
    return load_config(overrides={
        "study.name": "cluster", "study.runs_dir": str(tmp_path / "runs"),
        "study.storage": postgres.new_database(database),
        "artifact_store.url": f"file://{tmp_path / 'shared-artifacts'}",
        "backend.name": "ray", "strategy.name": "nsga2", "strategy.population_size": 4,
        "strategy.n_trials": 4, **overrides})


def _node_ids() -> tuple[str, ...]:
    import ray

    return tuple(node["NodeID"] for node in ray.nodes() if node["Alive"])


# ---- refused before any trial ---------------------------------------------------------------------
def test_a_file_storage_is_refused_on_two_nodes(ray_cluster, tmp_path, capsys):
    runs = tmp_path / "runs"
    code = main(["search", "--backend", "ray", "--study", "filed", "--runs-dir", str(runs), "--quiet",
                 "--n-trials", "2"])
    err = capsys.readouterr().err
    assert code == 2
    assert "Ray runs on 2 nodes" in err and "postgresql://user@host/db" in err
    assert len(err.strip().splitlines()) == 1
    assert not (runs / "filed" / "study.db").exists()  # refused before the study, let alone a trial


def test_no_artifact_store_is_refused_on_two_nodes(ray_cluster, postgres, tmp_path):
    config = _config(postgres, tmp_path, "no_store", **{"artifact_store.url": None})
    with pytest.raises(ConfigError, match="artifact_store.url: Ray runs on 2 nodes"):
        run_search(config, evaluator=ClusterFakeEvaluator(), progress="quiet")
    assert optuna.get_all_study_summaries(storage_from_url(config.storage_url)) == []


# ---- a tiny search ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def tiny_cluster_search(ray_cluster, postgres, tmp_path_factory):
    """One search of 4 trials on both nodes, its printed output and the cluster's node ids."""
    tmp_path = tmp_path_factory.mktemp("tiny-cluster")
    config = _config(postgres, tmp_path, "tiny")
    printed = io.StringIO()
    log = logging.StreamHandler(printed)  # the log lines count as printed too
    logging.getLogger("nas").addHandler(log)
    previous_level = logging.getLogger("nas").level
    logging.getLogger("nas").setLevel(logging.INFO)
    try:
        summary = run_search(config, evaluator=ClusterFakeEvaluator(train_seconds=1.0), progress="json",
                             stream=printed)
    finally:
        logging.getLogger("nas").removeHandler(log)
        logging.getLogger("nas").setLevel(previous_level)
    printed.write(format_summary(summary) + "\n")
    printed.write(resume_command(None, [("study.storage", config.storage_url)]) + "\n")
    return {"config": config, "summary": summary, "printed": printed.getvalue(), "tmp_path": tmp_path,
            "nodes": _node_ids()}


def test_every_trial_lands_in_postgresql_from_both_nodes(tiny_cluster_search):
    config, summary = tiny_cluster_search["config"], tiny_cluster_search["summary"]
    assert summary.complete and summary.n_done == 4 == summary.n_target
    study = open_study("cluster", config.storage_url)
    trials = study.get_trials()
    assert len(trials) == 4 and count_done(trials) == 4
    records = [TrialRecord.from_trial(t) for t in trials]
    assert sum(r.is_reference for r in records) == 1  # MobileNetV2, proposed first (two start at once)
    assert {r.worker.ray_node_id for r in records} == set(tiny_cluster_search["nodes"])  # both nodes worked
    assert all(r.worker.host and r.worker.pid != os.getpid() for r in records)
    assert all(r.device["tf_gpu_growth"] == "true" for r in records)  # set in every trial process
    assert study.metric_names == VALUE_NAMES


def test_the_log_says_how_many_trials_run_at_once_and_why(tiny_cluster_search):
    printed = tiny_cluster_search["printed"]
    assert "at most 2 trial(s) at once: one trial per Ray node (2): each measures latency on its own" in printed


def test_with_pi_agents_the_cap_is_the_number_of_agents():
    remote = {"profiler.kind": "remote", "profiler.urls": ["http://pi1:8600", "http://pi2:8600"]}
    capped = load_config(overrides={**remote, "backend.max_concurrent": 8}).concurrency(ray_nodes=5)
    assert capped.max_trials == 2 and "capped at 2: one trial per profiler agent" in capped.reason
    free = load_config(overrides={"backend.max_concurrent": 6}).concurrency(ray_nodes=2)
    assert free.max_trials == 6 and "measures latency on the CPU of the node it runs on" in free.reason


def test_artifacts_are_readable_from_the_head(tiny_cluster_search, tmp_path):
    config = tiny_cluster_search["config"]
    # The trial folders are gone (as on the head of a real cluster): the store still has everything.
    trials_dir = config.study.study_dir.resolve() / "trials"
    stored = {}
    for trial in open_study("cluster", config.storage_url).get_trials():
        record = TrialRecord.from_trial(trial)
        stored[trial.number] = (record, Path(record.artifacts["tflite_int8"]).read_bytes())
    import shutil

    shutil.rmtree(trials_dir)
    study = open_study("cluster", config.storage_url)
    for trial in study.get_trials():
        record, expected = stored[trial.number]
        if record.status != TrialStatus.COMPLETE or record.reused_from is not None:
            continue
        model = download_trial_artifact(config.artifact_store.url, study, trial, record.artifacts, "tflite_int8",
                                        tmp_path / f"{trial.number}.tflite")
        assert model.read_bytes() == expected == b"TFL3" + record.architecture.encode()
        keras = download_trial_artifact(config.artifact_store.url, study, trial, record.artifacts, "keras_model",
                                        tmp_path / f"{trial.number}.keras")
        assert keras.read_bytes() == b"keras:" + record.architecture.encode()
        # the one call for nas export / report: the store is the one the study recorded
        files = download_trial_files(study, trial.number, tmp_path / str(trial.number))
        assert set(files) == {"tflite_int8", "keras_model"} and files["tflite_int8"].read_bytes() == expected


def test_the_password_is_stored_printed_and_pickled_nowhere(tiny_cluster_search, postgres):
    password = postgres.password
    config = tiny_cluster_search["config"]
    # Everything the database holds (study and trial attributes, the proposer's study, artifact records).
    database = config.storage_url.rsplit("/", 1)[1]
    stored = subprocess.run([_pg_bin("pg_dump"), "-h", "127.0.0.1", "-p", str(postgres.port), "-U", "nas", database],
                            env={**os.environ, "PGPASSWORD": password}, capture_output=True, text=True,
                            check=True).stdout
    assert "postgresql://nas@127.0.0.1" in stored and password not in stored  # the URL is there, not the secret
    printed = tiny_cluster_search["printed"]
    assert "postgresql://nas@127.0.0.1" in printed and password not in printed
    ray_dir = config.study.study_dir.resolve() / "ray"
    ray_files = [p for p in ray_dir.rglob("*") if p.is_file()]
    assert any(p.suffix == ".pkl" for p in ray_files)  # Ray's pickled tuner and searcher state
    contents = [p.read_bytes() for p in ray_files]
    assert any(b"127.0.0.1" in c for c in contents)  # the storage is pickled in there ...
    assert not any(password.encode() in c for c in contents)  # ... without the password


def test_optuna_dashboard_serves_the_study_with_the_objective_names(tiny_cluster_search, postgres):
    port = _free_port()
    # SQLAlchemy 2.1 reads a plain postgresql:// as psycopg 3: name the installed driver (as docs/cluster.md says)
    url = driver_url(tiny_cluster_search["config"].storage_url)
    env = {**os.environ, "PGPASSWORD": postgres.password}  # libpq's own variable: the dashboard is not ours
    command = [sys.executable, "-c", "from optuna_dashboard._cli import main; main()", url,
               "--host", "127.0.0.1", "--port", str(port)]
    server = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        studies = _get_json(f"http://127.0.0.1:{port}/api/studies", server)
        (summary,) = [s for s in studies["study_summaries"] if s["study_name"] == "cluster"]
        detail = _get_json(f"http://127.0.0.1:{port}/api/studies/{summary['study_id']}", server)
        assert detail["objective_names"] == VALUE_NAMES
        assert len(detail["trials"]) == 4
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_the_same_search_resumes_on_the_cluster(tiny_cluster_search):
    """Run again with a larger budget (after the tests above read the first run): Ray Tune's last
    experiment is restored from the head and one new trial tops the study up; nothing repeats."""
    config = tiny_cluster_search["config"]
    bigger = dataclasses.replace(config, strategy=dataclasses.replace(config.strategy, n_trials=5))
    summary = run_search(bigger, evaluator=ClusterFakeEvaluator(), progress="quiet")
    assert summary.complete and summary.n_done == 5 and summary.new_trials == 1
    trials = open_study("cluster", config.storage_url).get_trials()
    assert len(trials) == 5 and count_done(trials) == 5
    records = [TrialRecord.from_trial(t) for t in trials]
    assert sum(r.ray_trial_id.startswith("search-1/") for r in records) == 1
    fresh = [r.architecture for r in records if r.reused_from is None]
    assert len(fresh) == len(set(fresh))


def _get_json(url: str, server: subprocess.Popen, timeout_s: float = 30.0) -> dict:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return json.loads(response.read())
        except OSError:
            if server.poll() is not None:
                pytest.fail(f"optuna-dashboard exited: {server.stderr.read().decode()[-2000:]}")
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)


# ---- stopping short is an error -----------------------------------------------------------------
def test_trials_ray_gave_up_on_make_the_search_fail(ray_cluster, postgres, tmp_path, monkeypatch, capsys):
    config = _config(postgres, tmp_path, "crashing", **{"strategy.n_trials": 2, "backend.max_failures": 0,
                                                         "reference.baseline": None})
    summary = run_search(config, evaluator=CrashingEvaluator(), progress="quiet")
    assert summary.n_done < 2
    assert any("only 0 of 2 trials done" in p for p in summary.problems)
    assert any("Ray trial(s) errored after 0 retries" in p and "worker crashed" in p for p in summary.problems)
    # nas search prints the summary, says why, and exits 1 (not 0 as it once did)
    monkeypatch.setattr("nas.strategies.run_search", lambda *args, **kwargs: summary)
    assert execute(config, quiet=True) == 1
    err = capsys.readouterr().err
    assert "nas search: incomplete: only 0 of 2 trials done" in err and "resume with:" in err


# ---- a node dies mid-trial (last: it removes the second node) ------------------------------------
def test_killing_the_second_node_mid_trial_loses_and_duplicates_nothing(ray_cluster, postgres, tmp_path):
    cluster, worker_node = ray_cluster
    config = _config(postgres, tmp_path, "killed", **{"strategy.n_trials": 4, "backend.max_failures": 3})
    head_id = next(node["NodeID"] for node in __import__("ray").nodes()
                   if node["Alive"] and node["NodeManagerAddress"] and node["NodeID"] != worker_node.node_id)
    killed = threading.Event()
    seen: list[str] = []

    def kill_when_node_2_runs_a_trial() -> None:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and not killed.is_set():
            try:
                running = optuna.load_study(study_name="cluster", storage=storage_from_url(config.storage_url)) \
                    .get_trials(states=(TrialState.RUNNING,))
            except KeyError:  # the study does not exist yet
                running = []
            nodes = [getattr(TrialRecord.from_trial(t).worker, "ray_node_id", None) for t in running]
            seen.extend(map(str, nodes))
            if worker_node.node_id in nodes:
                cluster.remove_node(worker_node, allow_graceful=False)
                killed.set()
                return
            time.sleep(0.2)

    storage_from_url(config.storage_url)  # the tables, before two processes race to create them
    killer = threading.Thread(target=kill_when_node_2_runs_a_trial, daemon=True)
    killer.start()
    summary = run_search(config, evaluator=ClusterFakeEvaluator(train_seconds=3.0), progress="quiet")
    killer.join(timeout=5)
    assert killed.is_set(), f"node 2 ({worker_node.node_id}) never ran a trial; running on: {set(seen)}"
    assert summary.complete and summary.n_done == 4

    trials = open_study("cluster", config.storage_url).get_trials()
    records = {t.number: TrialRecord.from_trial(t) for t in trials}
    interrupted = [n for n, r in records.items() if r.status == TrialStatus.INTERRUPTED]
    assert interrupted, "the trial on the killed node is recorded as interrupted"
    assert all(records[n].worker.ray_node_id == worker_node.node_id for n in interrupted)
    done = [t for t in trials if TrialRecord.from_trial(t).holds_result]
    assert len(done) == 4 and count_done(trials) == 4
    # None lost: every interrupted trial has exactly one retry, on the head, that finished.
    for number in interrupted:
        retries = [r for r in records.values() if r.retry_of == number]
        assert len(retries) == 1 and retries[0].holds_result
        assert retries[0].ray_trial_id == records[number].ray_trial_id
        assert retries[0].worker.ray_node_id == head_id
    # None duplicated: one finished study trial per Ray trial.
    ray_ids = [TrialRecord.from_trial(t).ray_trial_id for t in done]
    assert len(ray_ids) == len(set(ray_ids))
    assert not [t for t in trials if t.state in (TrialState.RUNNING, TrialState.WAITING)]


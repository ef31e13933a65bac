"""Trial artifacts every node can read: Optuna's artifact store (``optuna.artifacts``).

On one machine a trial's files stay in its folder (``runs/<study>/trials/<n>/``). On a cluster that
folder is on the disk of the node that ran the trial, so the int8 ``.tflite`` and the trained model
are also uploaded to an artifact store every node and the head can reach: a shared folder
(``file:///mnt/shared/nas`` -> ``FileSystemArtifactStore``) or an S3 bucket (``s3://bucket`` ->
``Boto3ArtifactStore``; ``$AWS_ENDPOINT_URL`` points boto3 at an S3-compatible store such as MinIO).
Optuna records each upload in the trial (``get_all_artifact_meta``), and optuna-dashboard lists
them; :func:`download_trial_artifact` fetches one back by its record name (``tflite_int8``).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import optuna
from optuna.artifacts import FileSystemArtifactStore, download_artifact, get_all_artifact_meta, upload_artifact
from optuna.trial import FrozenTrial

from nas.record.errors import StudyError
from nas.record.study import StudyAttributes
from nas.record.trial_record import TrialRecord

logger = logging.getLogger(__name__)

# The trial artifacts (TrialRecord.artifacts names) worth keeping: the deployed int8 model and the
# trained Keras model. The untrained .tflite only served the cheap measurement.
UPLOADED_ARTIFACTS = ("tflite_int8", "keras_model")


@functools.lru_cache(maxsize=8)
def artifact_store(url: str) -> Any:
    """The Optuna artifact store of ``url`` (``file:///path`` or ``s3://bucket``), one per process."""
    scheme, _, rest = url.partition("://")
    if scheme == "file":
        path = Path(rest if rest.startswith("/") else "/" + rest)
        path.mkdir(parents=True, exist_ok=True)
        return FileSystemArtifactStore(str(path))
    if scheme == "s3":
        bucket = rest.strip("/")
        if not bucket or "/" in bucket:
            raise StudyError(f"artifact_store.url {url!r}: give the bucket alone, s3://bucket")
        try:
            from optuna.artifacts import Boto3ArtifactStore

            return Boto3ArtifactStore(bucket)
        except ImportError:
            raise StudyError("artifact_store.url s3://...: boto3 is not installed; `pip install boto3`") from None
    raise StudyError(f"artifact_store.url {url!r} is not file:///shared/path or s3://bucket")


def upload_trial_artifacts(store_url: str, trial: optuna.Trial | FrozenTrial,
                           artifacts: Mapping[str, str]) -> dict[str, str]:
    """Upload the trial's files named in :data:`UPLOADED_ARTIFACTS` that exist here; returns name -> artifact id.

    Call it while the trial runs: Optuna records an upload in the trial, which a finished trial refuses.
    """
    store = artifact_store(store_url)
    uploaded = {}
    for name in UPLOADED_ARTIFACTS:
        path = artifacts.get(name)
        if not path or not Path(path).is_file():
            continue
        uploaded[name] = upload_artifact(artifact_store=store, file_path=str(path), study_or_trial=trial)
    logger.debug("trial %d: uploaded %s to %s", trial.number, sorted(uploaded), store_url)
    return uploaded


def trial_artifact_ids(study: optuna.Study, trial: FrozenTrial, artifacts: Mapping[str, str]) -> dict[str, str]:
    """Record name (``tflite_int8``) -> artifact id of the files uploaded for ``trial`` of ``study``."""
    by_filename = {meta.filename: meta.artifact_id for meta in get_all_artifact_meta(trial, storage=study._storage)}
    return {name: by_filename[Path(path).name] for name, path in artifacts.items()
            if name in UPLOADED_ARTIFACTS and Path(path).name in by_filename}


def download_trial_artifact(store_url: str, study: optuna.Study, trial: FrozenTrial, artifacts: Mapping[str, str],
                            name: str, dest: Path) -> Path:
    """Fetch the uploaded artifact ``name`` of ``trial`` into ``dest`` (a file path); returns ``dest``.

    ``artifacts`` is the trial record's (name -> the path it had on its node).
    """
    ids = trial_artifact_ids(study, trial, artifacts)
    if name not in ids:
        raise StudyError(f"trial {trial.number} has no uploaded artifact {name!r} "
                         f"(uploaded: {', '.join(sorted(ids)) or 'none'}; artifact_store.url was {store_url})")
    dest.parent.mkdir(parents=True, exist_ok=True)
    download_artifact(artifact_store=artifact_store(store_url), file_path=str(dest), artifact_id=ids[name])
    return dest


def study_artifact_store_url(study: optuna.Study) -> str | None:
    """The ``artifact_store.url`` the search of ``study`` recorded in its config (None: trial folders only)."""
    config = StudyAttributes.from_study(study).config or {}
    return (config.get("artifact_store") or {}).get("url")


def download_trial_files(study: optuna.Study, trial_number: int, dest_dir: Path) -> dict[str, Path]:
    """Every uploaded artifact of trial ``trial_number`` into ``dest_dir`` (what ``nas export`` and
    ``nas report`` on the head call): record name -> local file. The store is the one the study's
    search recorded; a study without one raises :class:`StudyError` naming the trial folder instead."""
    trial = study.get_trials(deepcopy=False)[trial_number]
    record = TrialRecord.from_trial(trial)
    store_url = study_artifact_store_url(study)
    if store_url is None:
        raise StudyError(f"study {study.study_name!r} has no artifact store (artifact_store.url); trial "
                         f"{trial_number}'s files are on the machine that ran it: {dict(record.artifacts)}")
    names = trial_artifact_ids(study, trial, record.artifacts)
    return {name: download_trial_artifact(store_url, study, trial, record.artifacts, name,
                                          Path(dest_dir) / Path(record.artifacts[name]).name) for name in names}


__all__ = ["UPLOADED_ARTIFACTS", "artifact_store", "download_trial_artifact", "download_trial_files",
           "study_artifact_store_url", "trial_artifact_ids", "upload_trial_artifacts"]

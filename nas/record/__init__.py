"""The record of a search: the Optuna study, its trials as typed values, storages, recovery, points.

- :mod:`~nas.record.trial_record`: :class:`TrialRecord`, one trial as a frozen value and its form
  as Optuna user attributes (the only place that spells those names).
- :mod:`~nas.record.study`: create, resume and open a study; :class:`StudyAttributes`.
- :mod:`~nas.record.storage`: storage URLs (SQLite, journal file, any SQLAlchemy URL).
- :mod:`~nas.record.recovery`: worker identity, interrupted trials.
- :mod:`~nas.record.points`: the study's trials as :class:`ModelPoint` values for the results.
"""

from nas.record.errors import StudyError
from nas.record.points import (
    OBJECTIVES,
    ModelPoint,
    distinct,
    point_from_attrs,
    point_from_record,
    record_from_attrs,
    study_device,
    study_dir,
    study_objectives,
    study_points,
    trial_summary,
)
from nas.record.recovery import mark_interrupted, recover_interrupted_trials, worker_identity, worker_is_dead
from nas.record.storage import absolute_storage_url, default_storage_url, storage_from_url
from nas.record.study import (
    PROPOSER_SUFFIX,
    StudyAttributes,
    count_done,
    create_or_load_study,
    find_previous,
    has_reference,
    open_study,
)
from nas.record.trial_record import (
    NOT_COPIED_FIELDS,
    OWN_FIELDS,
    TrialRecord,
    TrialStatus,
    WorkerIdentity,
    is_done,
    own_attrs,
    to_jsonable,
)

__all__ = [
    "NOT_COPIED_FIELDS",
    "OBJECTIVES",
    "OWN_FIELDS",
    "PROPOSER_SUFFIX",
    "ModelPoint",
    "StudyAttributes",
    "StudyError",
    "TrialRecord",
    "TrialStatus",
    "WorkerIdentity",
    "absolute_storage_url",
    "count_done",
    "create_or_load_study",
    "default_storage_url",
    "distinct",
    "find_previous",
    "has_reference",
    "is_done",
    "mark_interrupted",
    "open_study",
    "own_attrs",
    "point_from_attrs",
    "point_from_record",
    "record_from_attrs",
    "recover_interrupted_trials",
    "storage_from_url",
    "study_device",
    "study_dir",
    "study_objectives",
    "study_points",
    "to_jsonable",
    "trial_summary",
    "worker_identity",
    "worker_is_dead",
]

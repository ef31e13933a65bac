"""The Optuna study is the record of a search: creation, resume, opening, and its study-level attributes.

Every trial keeps its architecture, metrics, latency statistics, device, step timings and artifact
paths as user attributes (:class:`~nas.record.trial_record.TrialRecord`); the study keeps the search's
configuration and objectives as its own user attributes (:class:`StudyAttributes`). Both are
documented in docs/interfaces.md "Study record", so the study alone is enough for ``nas trials``,
``nas pareto``, ``optuna-dashboard`` and the ``optuna`` CLI.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import FrozenTrial

from nas.record.errors import StudyError
from nas.record.storage import absolute_storage_url, default_storage_url, redact_url, storage_from_url
from nas.record.trial_record import TrialRecord, is_done, to_jsonable

# Ray Tune's OptunaSearch keeps its proposals in "<study>:ray-proposer" next to the record.
PROPOSER_SUFFIX = ":ray-proposer"


@dataclasses.dataclass(frozen=True)
class StudyAttributes:
    """What ``nas search`` records about the whole search, as the study's user attributes.

    ``config`` is the search configuration's dict form (``SearchConfig.as_dict()``); ``objectives``
    the ``nas search`` objective names; ``value_names`` the trial attribute behind each Optuna value
    (``accuracy_int8``, ... or ``mnasnet_reward``); ``strategy`` the strategy name;
    ``reference_baseline`` the registry name evaluated first; ``study_dir`` the artifacts' folder.
    A study made by another tool may lack any of them; keys this version does not know stay in ``extra``.
    """

    config: Mapping[str, Any] | None = None
    objectives: tuple[str, ...] = ()
    value_names: tuple[str, ...] = ()
    strategy: str | None = None
    reference_baseline: str | None = None
    study_dir: Path | None = None
    extra: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    @classmethod
    def from_user_attrs(cls, attrs: Mapping[str, Any]) -> StudyAttributes:
        """The attributes of a study from its user attributes (any version's)."""
        known = {f.name for f in dataclasses.fields(cls)} - {"extra"}
        values = {k: v for k, v in attrs.items() if k in known and v is not None}
        for name in ("objectives", "value_names"):
            values[name] = tuple(values.get(name) or ())
        if "study_dir" in values:
            values["study_dir"] = Path(values["study_dir"])
        if "config" in values:
            values["config"] = dict(values["config"])
        return cls(**values, extra={k: v for k, v in attrs.items() if k not in known})

    @classmethod
    def from_study(cls, study: optuna.Study) -> StudyAttributes:
        return cls.from_user_attrs(study.user_attrs)

    def to_user_attrs(self) -> dict[str, Any]:
        """JSON-ready study user attributes (every field, ``None`` when unset, then ``extra``)."""
        out: dict[str, Any] = dict(self.extra)
        for f in dataclasses.fields(self):
            if f.name != "extra":
                out[f.name] = getattr(self, f.name)
        return to_jsonable(out)

    def replace(self, **changes: Any) -> StudyAttributes:
        """A copy with ``changes`` (``dataclasses.replace``)."""
        return dataclasses.replace(self, **changes)

    def write(self, study: optuna.Study) -> None:
        """Store these attributes as the user attributes of ``study``."""
        for key, value in self.to_user_attrs().items():
            study.set_user_attr(key, value)


def open_study(
    study_name: str | None = None,
    storage: str | None = None,
    runs_dir: str | Path = "runs",
) -> optuna.Study:
    """Open an existing study for reading (``nas trials``, ``nas pareto``, ...).

    With no storage, the default SQLite file of ``study_name`` under ``runs_dir``; with a storage
    holding exactly one study, ``study_name`` may be omitted.
    """
    if storage is None:
        if study_name is None:
            raise StudyError("give a study name (--study) or a storage URL (--storage)")
        db = Path(runs_dir) / study_name / "study.db"
        if not db.is_file():
            raise StudyError(f"no study {study_name!r}: {db} does not exist "
                             f"(run `nas search --study.name {study_name}`)")
        storage = default_storage_url(runs_dir, study_name)
    backend = storage_from_url(storage)
    names = [s.study_name for s in optuna.get_all_study_summaries(backend, include_best_trial=False)]
    if study_name is None:
        records = [n for n in names if not n.endswith(PROPOSER_SUFFIX)]
        if len(records) == 1:
            return optuna.load_study(study_name=records[0], storage=backend)
        if len(names) != 1:
            raise StudyError(f"storage {redact_url(storage)} holds {len(names)} studies "
                             f"({', '.join(names) or 'none'}); choose one with --study")
        study_name = names[0]
    if study_name not in names:
        raise StudyError(f"storage {redact_url(storage)} has no study {study_name!r}; "
                         f"it holds: {', '.join(names) or 'none'}")
    return optuna.load_study(study_name=study_name, storage=backend)


def create_or_load_study(
    *,
    study_name: str,
    storage_url: str,
    directions: Sequence[str],
    value_names: Sequence[str],
    sampler: optuna.samplers.BaseSampler | None,
    study_attrs: StudyAttributes | Mapping[str, Any],
) -> tuple[optuna.Study, bool]:
    """Create the study, or load it when it exists with the same objectives. Returns (study, created).

    A new study records ``study_attrs`` (with ``value_names``); an existing one keeps what it recorded.
    """
    storage = storage_from_url(storage_url)
    existing = [s.study_name for s in optuna.get_all_study_summaries(storage, include_best_trial=False)]
    created = study_name not in existing
    study = optuna.create_study(
        study_name=study_name,
        storage=storage,
        directions=list(directions),
        sampler=sampler,
        load_if_exists=True,
    )
    if created:
        if not isinstance(study_attrs, StudyAttributes):
            study_attrs = StudyAttributes.from_user_attrs(study_attrs)
        study_attrs.replace(value_names=tuple(value_names)).write(study)
        # optuna-dashboard and plot_pareto_front then say accuracy_int8, not "Objective 0".
        _set_metric_names(study, value_names)
        return study, created
    old_names = StudyAttributes.from_study(study).value_names or None
    old_directions = [d.name.lower() for d in study.directions]
    if old_directions != list(directions) or (old_names is not None and list(old_names) != list(value_names)):
        raise StudyError(
            f"study {study_name!r} in {redact_url(storage_url)} optimizes {list(old_names or old_directions)}; "
            f"this search optimizes {list(value_names)} ({list(directions)}). Use another --study.name or the same "
            "objectives and strategy."
        )
    _check_same_evaluator(study, study_attrs, f"study {study_name!r} in {redact_url(storage_url)}")
    if study.metric_names is None:  # a study recorded before the names were set
        _set_metric_names(study, value_names)
    return study, created


def _evaluator_name(config: Mapping[str, Any]) -> str:
    """``evaluator.name`` of a recorded config (studies recorded before the section: ``training``)."""
    section = config.get("evaluator")
    return str(section.get("name") or "training") if isinstance(section, Mapping) else "training"


def _check_same_evaluator(study: optuna.Study, study_attrs: StudyAttributes | Mapping[str, Any], where: str) -> None:
    """All accuracies of a study are measured one way, trained or inherited from a supernet (issue 16):
    resuming it with the other evaluator would put both kinds on one front and in one sampler."""
    config = study_attrs.config if isinstance(study_attrs, StudyAttributes) else study_attrs.get("config")
    if not config:
        return
    recorded, wanted = _evaluator_name(StudyAttributes.from_study(study).config or {}), _evaluator_name(config)
    if recorded != wanted:
        raise StudyError(f"{where} measures accuracy with evaluator {recorded!r}; this search uses {wanted!r}, and "
                         "the two accuracies do not compare. Use another --study.name or the same evaluator.name.")


def _set_metric_names(study: optuna.Study, value_names: Sequence[str]) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        study.set_metric_names(list(value_names))


# ---- trials --------------------------------------------------------------------------------------


def count_done(trials: Iterable[FrozenTrial]) -> int:
    """How many of ``trials`` hold a result (:func:`~nas.record.trial_record.is_done`)."""
    return sum(1 for t in trials if is_done(t))


def find_previous(trials: Iterable[FrozenTrial], architecture: str, *, exclude: int | None = None,
                  proxy_epochs: int | None = None) -> FrozenTrial | None:
    """The first finished trial with the same architecture and training budget (its results are
    reused, not recomputed)."""
    for trial in trials:
        if trial.number == exclude or not is_done(trial):
            continue
        record = TrialRecord.from_trial(trial)
        if (record.architecture == architecture and record.reused_from is None
                and record.proxy_epochs == proxy_epochs):
            return trial
    return None


def has_reference(study: optuna.Study) -> bool:
    """Whether the reference trial was ever enqueued (in any state, waiting included)."""
    return any(TrialRecord.from_trial(t).is_reference for t in study.get_trials(deepcopy=False))


__all__ = [
    "PROPOSER_SUFFIX",
    "StudyAttributes",
    "StudyError",
    "absolute_storage_url",
    "count_done",
    "create_or_load_study",
    "default_storage_url",
    "find_previous",
    "has_reference",
    "is_done",
    "open_study",
    "storage_from_url",
]

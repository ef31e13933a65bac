"""The study as the board of early stopping's rungs: each trial writes its rung accuracies there and
is judged against every trial of the study (any process, any host) that reached the same rung.

The rule itself is :class:`nas.trial.early_stopping.EarlyStopping` (MO-ASHA); this module only
reads and writes the Optuna study, so the local loop, Ray Tune workers and KerasTuner share one
board through the study's storage.
"""

from __future__ import annotations

import logging

import optuna

from nas.record.trial_record import TrialRecord, set_fields
from nas.trial.early_stopping import EarlyStopping, RungJudge, RungPoint

logger = logging.getLogger(__name__)


class StudyRungBoard:
    """Judges one trial at its rungs against the study; the reference is recorded but never stopped."""

    def __init__(self, study: optuna.Study, trial: optuna.Trial, rule: EarlyStopping) -> None:
        self.study = study
        self.trial = trial
        self.rule = rule

    def judge_for(self, record: TrialRecord) -> RungJudge:
        """The judge of a trial whose cost is in ``record`` (called once the cost is measured)."""
        reached: dict[int, float] = dict(record.rung_accuracies)

        def judge(epoch: int, accuracy: float) -> bool:
            reached[epoch] = accuracy
            # Written first, with the cost: trials judged at this rung from now on see this one.
            set_fields(self.trial, rung_accuracies=dict(reached), latency_ms_p50=record.latency_ms_p50,
                       size_bytes=record.size_bytes)
            own = RungPoint(self.trial.number, accuracy, record.latency_ms_p50, record.size_bytes)
            others = self.points_at(epoch)
            promoted = record.is_reference or self.rule.promoted(own, others)
            logger.info("trial %d at rung %d: accuracy %.4f, %s (%d other trials there)", self.trial.number,
                        epoch, accuracy, "goes on" if promoted else "stopped", len(others))
            return promoted

        return judge

    def points_at(self, epoch: int) -> list[RungPoint]:
        """Every other trial of the study that reached rung ``epoch``, whatever its state."""
        points = []
        for frozen in self.study.get_trials(deepcopy=False):
            if frozen.number == self.trial.number:
                continue
            other = TrialRecord.from_trial(frozen)
            if epoch in other.rung_accuracies:
                points.append(RungPoint(frozen.number, other.rung_accuracies[epoch], other.latency_ms_p50,
                                        other.size_bytes))
        return points

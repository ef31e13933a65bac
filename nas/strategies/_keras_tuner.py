"""`nas search --strategy keras-tuner`: KerasTuner's oracles proposing, our pipeline evaluating.

Roles as KerasTuner separates them: :class:`SpaceHyperModel` maps ``HyperParameters`` to an
:class:`~search_spaces.Architecture` (no Keras model is built, the builder runs inside the
pipeline); a Bayesian-optimization or Hyperband ``Oracle`` proposes; :class:`PipelineTuner`
overrides ``run_trial`` to run one trial of the session and return the MnasNet reward
(KerasTuner optimizes one number; the study keeps accuracy, latency and size apart). Hyperband's
``tuner/epochs`` becomes the proxy training epochs of that trial. KerasTuner cannot be told to
propose MobileNetV2, so the loop evaluates it first.

KerasTuner 1.4 imports ``keras`` to decide its backend, which would load Keras 3 next to our Keras 2.
:func:`search_spaces.keras_backend.import_keras_tuner` lets it see ``tf_keras`` instead (``tf_keras``
has no ``keras.version()``, so KerasTuner takes its Keras 2 path, ``tensorflow.keras`` = ``tf_keras``
under TF_USE_LEGACY_KERAS).
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any

from nas.config.settings import SearchConfig
from nas.record import study as record
from nas.record.trial_record import TrialRecord
from nas.strategies._base import Strategy
from nas.strategies._setup import SearchSetup
from nas.strategies._trials import SearchSession
from nas.trial.objectives import REWARD_METRIC
from nas.trial.protocol import FatalSearchError

logger = logging.getLogger(__name__)


def make_tuner_classes(kt: Any) -> tuple[type, type]:
    """The HyperModel and Tuner classes (defined once KerasTuner is imported on tf_keras)."""

    class SpaceHyperModel(kt.HyperModel):
        """The search space as a HyperModel: ``build(hp)`` returns an Architecture, not a Keras model."""

        def __init__(self, space: Any) -> None:
            super().__init__(name="search_space", tunable=True)
            self.space = space

        def build(self, hp: Any) -> Any:
            return self.space.sample_keras_tuner(hp)

    class PipelineTuner(kt.engine.base_tuner.BaseTuner):
        """A Tuner whose ``run_trial`` is one trial of our pipeline, recorded into the Optuna study."""

        def __init__(self, oracle: Any, hypermodel: Any, *, session: SearchSession, **kwargs: Any) -> None:
            super().__init__(oracle, hypermodel, **kwargs)
            self.session = session

        def run_trial(self, trial: Any, *args: Any, **kwargs: Any) -> dict[str, float]:
            arch = self.hypermodel.build(trial.hyperparameters)
            epochs = trial.hyperparameters.values.get("tuner/epochs")
            try:
                _, outcome = self.session.run_external_trial(
                    arch, own=TrialRecord(keras_tuner_trial_id=trial.trial_id), epochs=epochs)
            except FatalSearchError as exc:
                raise kt.errors.FatalError(str(exc)) from exc
            if outcome.failed:
                raise kt.errors.FailedTrialError(outcome.record.failure_reason or "candidate failed")
            return {REWARD_METRIC: outcome.values[0]}

        def save_model(self, trial_id: str, model: Any, step: int = 0) -> None:
            # Artifacts are written by the pipeline into runs/<study>/trials/<number>/.
            return None

        def load_model(self, trial: Any) -> Any:
            return None

    return SpaceHyperModel, PipelineTuner


def make_oracle(kt: Any, config: SearchConfig, max_trials: int) -> Any:
    objective = kt.Objective(REWARD_METRIC, direction="max")
    settings = config.strategy.keras_tuner
    if settings.oracle == "hyperband":
        oracle = kt.oracles.HyperbandOracle(objective=objective, max_epochs=settings.max_epochs,
                                            seed=config.study.seed, max_consecutive_failed_trials=max(3, max_trials))
        oracle.max_trials = max_trials  # Hyperband sizes its brackets itself; cap it at the trial budget
        return oracle
    return kt.oracles.BayesianOptimizationOracle(objective=objective, max_trials=max_trials, seed=config.study.seed,
                                                 max_consecutive_failed_trials=max(3, max_trials))


class KerasTunerStrategy(Strategy):
    """A KerasTuner oracle proposes; KerasTuner reloads it from ``runs/<study>/keras_tuner/`` on resume."""

    names = ("keras-tuner",)

    def proposes_reference(self, setup: SearchSetup) -> bool:
        return False

    def search(self, session: SearchSession, budget: int) -> None:
        from search_spaces.keras_backend import import_keras_tuner

        kt = import_keras_tuner()
        # The reloaded oracle counts its own trials: its budget is the target less the others.
        not_from_kt = sum(1 for t in session.study.get_trials(deepcopy=False)
                          if record.is_done(t) and TrialRecord.from_trial(t).keras_tuner_trial_id is None)
        max_trials = max(0, session.n_target - not_from_kt)
        if not max_trials:
            return
        hypermodel_cls, tuner_cls = make_tuner_classes(kt)
        kt_dir = session.setup.study_dir.resolve() / "keras_tuner"
        kt_dir.mkdir(parents=True, exist_ok=True)
        # KerasTuner reports with print(); keep that in a file, our progress has the same facts.
        with open(kt_dir / "output.log", "a", encoding="utf-8") as kt_log, contextlib.redirect_stdout(kt_log):
            tuner = tuner_cls(make_oracle(kt, self.config, max_trials), hypermodel_cls(session.setup.space),
                              session=session, directory=str(kt_dir.parent), project_name=kt_dir.name,
                              overwrite=False)
            try:
                tuner.search(verbose=0)
            except kt.errors.FatalError as exc:
                if isinstance(exc.__cause__, FatalSearchError):
                    raise exc.__cause__ from None
                raise

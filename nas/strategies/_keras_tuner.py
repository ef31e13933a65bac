"""`nas search --strategy keras-tuner`: KerasTuner's oracles proposing, our pipeline evaluating.

Roles as KerasTuner separates them: :class:`SpaceHyperModel` maps ``HyperParameters`` to an
:class:`~search_spaces.Architecture` (no Keras model is built, the builder runs inside the
pipeline); a Bayesian-optimization or Hyperband ``Oracle`` proposes; :class:`PipelineTuner`
overrides ``run_trial`` to run :func:`nas.strategies._loop.record_trial` and return the MnasNet reward
(KerasTuner optimizes one number; the study keeps accuracy, latency and size apart). Hyperband's
``tuner/epochs`` becomes the proxy training epochs of that trial.

KerasTuner 1.4 imports ``keras`` to decide its backend, which would load Keras 3 next to our Keras 2.
:func:`search_spaces.keras_backend.import_keras_tuner` lets it see ``tf_keras`` instead (``tf_keras`` has no ``keras.version()``,
so KerasTuner takes its Keras 2 path, ``tensorflow.keras`` = ``tf_keras`` under TF_USE_LEGACY_KERAS).
"""

from __future__ import annotations

import contextlib
import logging
import time
from typing import Any

import optuna

from nas.record import study as record
from nas.config.settings import SearchConfig
from nas.trial.objectives import REWARD_METRIC
from nas.trial.pipeline import CandidateEvaluator, FatalSearchError
from nas.strategies._progress import SearchProgress
from nas.strategies._loop import (
    SearchSetup,
    SearchSummary,
    build_setup,
    evaluate_reference_first,
    front_size,
    prepare_study,
    run_external_trial,
    summarize,
)

logger = logging.getLogger(__name__)

ATTR_KT_TRIAL_ID = "keras_tuner_trial_id"


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

        def __init__(self, oracle: Any, hypermodel: Any, *, setup: SearchSetup, study: optuna.Study,
                     progress: SearchProgress, **kwargs: Any) -> None:
            super().__init__(oracle, hypermodel, **kwargs)
            self.search_setup = setup
            self.study = study
            self.progress = progress

        def run_trial(self, trial: Any, *args: Any, **kwargs: Any) -> dict[str, float]:
            arch = self.hypermodel.build(trial.hyperparameters)
            epochs = trial.hyperparameters.values.get("tuner/epochs")
            try:
                number, outcome = run_external_trial(
                    self.search_setup, self.study, arch,
                    user_attrs={ATTR_KT_TRIAL_ID: trial.trial_id}, epochs=epochs)
            except FatalSearchError as exc:
                raise kt.errors.FatalError(str(exc)) from exc
            finished = self.study.get_trials(deepcopy=False)[number]
            self.progress.trial_finished(finished, front_size=front_size(self.study, self.search_setup.objectives),
                                         count_as_done=record.is_done(finished))
            if outcome.failed:
                raise kt.errors.FailedTrialError(outcome.user_attrs.get(record.ATTR_FAILURE_REASON) or "candidate failed")
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


def run_keras_tuner_search(config: SearchConfig, *, evaluator: CandidateEvaluator | None = None,
                           progress: str = "bar", stream: Any = None) -> SearchSummary:
    """Run (or resume: KerasTuner reloads its oracle from runs/<study>/keras_tuner/) the search."""
    from search_spaces.keras_backend import import_keras_tuner

    kt = import_keras_tuner()
    start = time.perf_counter()
    setup = build_setup(config, evaluator)
    study, recovered = prepare_study(config, setup, sampler=None, enqueue_retries=False)
    before = len(study.get_trials(deepcopy=False))
    done = record.count_done(study.get_trials(deepcopy=False))
    with SearchProgress(total=config.strategy.n_trials, done=done, mode=progress, stream=stream) as bar:
        # The reference first, by the same pipeline; KerasTuner cannot be told to propose it.
        evaluate_reference_first(setup, study, bar)
        not_from_kt = sum(1 for t in study.get_trials(deepcopy=False)
                          if record.is_done(t) and ATTR_KT_TRIAL_ID not in t.user_attrs)
        max_trials = max(0, config.strategy.n_trials - not_from_kt)
        if max_trials:
            hypermodel_cls, tuner_cls = make_tuner_classes(kt)
            kt_dir = setup.study_dir.resolve() / "keras_tuner"
            kt_dir.mkdir(parents=True, exist_ok=True)
            # KerasTuner reports with print(); keep that in a file, our progress has the same facts.
            with open(kt_dir / "output.log", "a", encoding="utf-8") as kt_log, contextlib.redirect_stdout(kt_log):
                tuner = tuner_cls(
                    make_oracle(kt, config, max_trials),
                    hypermodel_cls(setup.space),
                    setup=setup, study=study, progress=bar,
                    directory=str(kt_dir.parent), project_name=kt_dir.name, overwrite=False,
                )
                try:
                    tuner.search(verbose=0)
                except kt.errors.FatalError as exc:
                    if isinstance(exc.__cause__, FatalSearchError):
                        raise exc.__cause__ from None
                    raise
    return summarize(study, setup, new_trials=len(study.get_trials(deepcopy=False)) - before,
                     recovered=recovered, elapsed_s=time.perf_counter() - start)


"""The one small base every search strategy derives from.

As Optuna's ``BaseSampler`` and KerasTuner's ``Oracle`` keep proposing apart from working, a
:class:`Strategy` only proposes architectures and learns their results; evaluating one and writing
it into the study is the :class:`~nas.strategies._trials.SearchSession` the loop hands it
(:meth:`SearchSession.run_trial` returns the result the proposer is told). Everything around the
proposals is the shared loop's (:mod:`nas.strategies._loop`): setup, opening or resuming the study,
recovering interrupted trials, the MobileNetV2 reference first, progress, the stop at the target,
the summary.

The tools behind our strategies each own their proposal loop (Optuna's ask/tell, KerasTuner's
``Tuner.search``, Ray Tune's ``Tuner.fit``), so :meth:`Strategy.search` is handed the session and a
budget and drives its tool until the budget is spent or the session says the target is reached.
A new strategy is one module with one subclass, named in the registry of :mod:`nas.strategies`.
"""

from __future__ import annotations

import abc
from typing import TYPE_CHECKING, ClassVar

from nas.config.settings import SearchConfig

if TYPE_CHECKING:
    from nas.strategies._setup import SearchSetup
    from nas.strategies._trials import SearchSession


class Strategy(abc.ABC):
    """Proposes architectures for a search and is told how each one did."""

    #: Registry names this class serves (``strategy.name``, or ``backend.name`` for a backend).
    names: ClassVar[tuple[str, ...]] = ()
    #: Whether proposals come from the study's own queue first (Optuna's ``ask`` pops enqueued
    #: trials): then the loop enqueues the reference and the retries of interrupted trials. Other
    #: strategies propose on their own; the loop evaluates the reference for them when needed.
    uses_study_queue: ClassVar[bool] = False

    def __init__(self, config: SearchConfig) -> None:
        self.config = config
        #: Why the search may have fallen short (trials its tool gave up on); the loop reports them.
        self.problems: list[str] = []

    @property
    def name(self) -> str:
        return self.config.strategy.name

    def check(self) -> None:
        """Refuse a setting this strategy cannot run with, before the study is touched or any trial runs
        (raise :class:`~nas.config.settings.ConfigError`). Nothing to refuse by default."""
        return None

    def proposes_reference(self, setup: SearchSetup) -> bool:
        """Whether this strategy proposes the reference itself (else the loop evaluates it first)."""
        return self.uses_study_queue

    @abc.abstractmethod
    def search(self, session: SearchSession, budget: int) -> None:
        """Propose and evaluate up to ``budget`` architectures through ``session``.

        Stop early when ``session.target_reached()`` (several processes may share the study).
        A :class:`~nas.trial.protocol.FatalSearchError` propagates: the loop's caller reports it.
        """

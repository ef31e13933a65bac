"""nas export: choosing the model (constructed study) and the real export of a tiny study."""

from __future__ import annotations

import pytest

from nas.selection import SelectionError, SelectionRequest, select_model
from nas.study_points import distinct
from tests.nas.constructed_study import TRIALS, trial_attrs


def _points():
    from nas.study_points import point_from_attrs

    return [point_from_attrs(n, trial_attrs(n, *t)) for n, t in enumerate(TRIALS)]


def test_select_by_trial_number_says_whether_on_front() -> None:
    chosen = select_model(_points(), SelectionRequest(trial_number=1))
    assert chosen.point.trial_number == 1 and chosen.on_front
    assert "as requested by number; on the Pareto front" in chosen.reason
    off = select_model(_points(), SelectionRequest(trial_number=3))
    assert not off.on_front and "NOT on the Pareto front" in off.reason
    with pytest.raises(SelectionError, match=r"no trial 42 in the study \(trials: \[0, 1, 2, 3, 4, 5\]\)"):
        select_model(_points(), SelectionRequest(trial_number=42))
    with pytest.raises(SelectionError, match="trial 4 was not fully evaluated"):
        select_model(_points(), SelectionRequest(trial_number=4))


def test_select_by_constraint() -> None:
    points = _points()
    # fastest with accuracy >= 85 %: trial 1 (2 ms) beats trial 5 (6 ms)
    fastest = select_model(points, SelectionRequest(min_accuracy=0.85))
    assert fastest.point.trial_number == 1
    assert "the fastest of the 2 front model(s) with accuracy >= 85.0 %" in fastest.reason
    # most accurate under 1 ms: trial 2
    assert select_model(points, SelectionRequest(max_latency_ms=1.0)).point.trial_number == 2
    # most accurate under 200 KB: trial 1
    best_small = select_model(points, SelectionRequest(max_size_bytes=200 * 1024))
    assert best_small.point.trial_number == 1 and "the most accurate" in best_small.reason
    with pytest.raises(SelectionError, match="no model on the front has accuracy >= 99.0 %"):
        select_model(points, SelectionRequest(min_accuracy=0.99))
    with pytest.raises(SelectionError, match="not both"):
        select_model(points, SelectionRequest(trial_number=1, min_accuracy=0.5))


def test_select_knee_by_default() -> None:
    chosen = select_model(_points(), SelectionRequest())
    # front (2: 0.70/0.8 ms/40 KB, 1: 0.90/2 ms/150 KB, 5: 0.95/6 ms/500 KB): trial 1 is the bend
    assert chosen.point.trial_number == 1
    assert chosen.reason.startswith("trial 1: the knee of the 3-model Pareto front")
    assert distinct(_points()) == _points()

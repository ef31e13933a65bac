"""The read-out of benchmarks/tf_data_autotune.py (the runs themselves are a benchmark, not a test)."""

from __future__ import annotations

import pytest

from benchmarks.tf_data_autotune import summary


def _run(autotune: bool, fit_s: float, gaps: list[float]) -> dict:
    return {"autotune": autotune, "fit_s": fit_s, "epoch_s": [10.0, 6.0, 6.0], "gaps_s": gaps, "evaluate_s": 2.0}


def test_the_summary_pairs_runs_in_their_order():
    runs = [_run(False, 23.0, [0, 0, 0]), _run(True, 30.0, [3.5, 3.5, 0]),
            _run(False, 24.0, [0, 0, 0.5]), _run(True, 26.0, [0, 0, 2.0])]
    out = summary(runs)
    assert out["off"]["runs"] == 2 and out["off"]["fit_s_mean"] == pytest.approx(23.5)
    assert out["on"]["gaps_s_mean_total"] == pytest.approx(4.5)
    assert out["fit_s_on_minus_off_per_pair"] == [7.0, 2.0]

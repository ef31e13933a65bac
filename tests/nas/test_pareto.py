"""nas.pareto against brute force on random points."""

from __future__ import annotations

import itertools
import subprocess
import sys

import numpy as np
import pytest

from nas import pareto

MIXED = ["maximize", "minimize", "minimize"]


def _brute_dominates(a, b, directions) -> bool:
    better_somewhere = False
    for x, y, d in zip(a, b, directions):
        if d == "maximize":
            x, y = -x, -y
        if x > y:
            return False
        if x < y:
            better_somewhere = True
    return better_somewhere


def _brute_front(points, directions) -> list[bool]:
    return [
        not any(_brute_dominates(q, p, directions) for j, q in enumerate(points) if j != i)
        for i, p in enumerate(points)
    ]


def _brute_ranks(points, directions) -> list[int]:
    ranks = [-1] * len(points)
    left = list(range(len(points)))
    rank = 0
    while left:
        front = [i for i in left if not any(_brute_dominates(points[j], points[i], directions) for j in left)]
        for i in front:
            ranks[i] = rank
        left = [i for i in left if i not in front]
        rank += 1
    return ranks


def _brute_hypervolume(points, reference, directions) -> float:
    """Inclusion-exclusion over every subset of boxes [point, reference] (minimized space)."""
    signs = np.array([-1.0 if d == "maximize" else 1.0 for d in directions])
    minimized = [np.asarray(p) * signs for p in points]
    ref = np.asarray(reference) * signs
    minimized = [p for p in minimized if np.all(p < ref)]
    total = 0.0
    for size in range(1, len(minimized) + 1):
        for subset in itertools.combinations(minimized, size):
            corner = np.max(subset, axis=0)
            total += (-1) ** (size + 1) * float(np.prod(ref - corner))
    return total


def _random_points(rng: np.random.Generator, n: int, m: int, integer: bool) -> np.ndarray:
    if integer:  # many ties and duplicates, the hard cases for dominance
        return rng.integers(0, 6, size=(n, m)).astype(float)
    return rng.random((n, m))


@pytest.mark.parametrize("m", [2, 3])
@pytest.mark.parametrize("integer", [False, True])
def test_front_and_ranks_match_brute_force(m: int, integer: bool) -> None:
    rng = np.random.default_rng(m * 10 + integer)
    directions = MIXED[:m]
    for _ in range(40):
        points = _random_points(rng, int(rng.integers(1, 25)), m, integer)
        assert pareto.non_dominated_mask(points, directions).tolist() == _brute_front(points.tolist(), directions)
        assert pareto.non_dominated_sort(points, directions).tolist() == _brute_ranks(points.tolist(), directions)


@pytest.mark.parametrize("m", [1, 2, 3])
@pytest.mark.parametrize("integer", [False, True])
def test_hypervolume_matches_inclusion_exclusion(m: int, integer: bool) -> None:
    rng = np.random.default_rng(100 + m * 10 + integer)
    directions = MIXED[:m]
    # Reference worse than every point: 0 for the maximized objective, above the max for the others;
    # sometimes inside the cloud, so that points not beating it must be ignored.
    for trial in range(40):
        points = _random_points(rng, int(rng.integers(1, 10)), m, integer)
        if trial % 3 == 0:
            reference = [float(np.median(points[:, k])) for k in range(m)]
        else:
            reference = [-0.5 if d == "maximize" else 6.5 for d in directions]
        expected = _brute_hypervolume(points, reference, directions)
        assert pareto.hypervolume(points, reference, directions) == pytest.approx(expected, abs=1e-9)


def test_hypervolume_integer_grid_cell_count() -> None:
    """On integer points, the hypervolume equals the number of unit cells some point dominates."""
    rng = np.random.default_rng(7)
    directions = ["minimize", "maximize", "minimize"]
    for _ in range(20):
        points = rng.integers(0, 5, size=(int(rng.integers(1, 12)), 3))
        reference = [5, -1, 5]
        cells = 0
        for x, y, z in itertools.product(range(5), range(-1, 4), range(5)):
            # cell [x, x+1] x [y, y+1] x [z, z+1]; y is maximized so its far side is y + 1
            if any(p[0] <= x and p[1] >= y + 1 and p[2] <= z for p in points):
                cells += 1
        assert pareto.hypervolume(points, reference, directions) == pytest.approx(cells)


def test_hypervolume_known_values() -> None:
    # accuracy (max) vs latency (min); reference accuracy 0, latency 10 ms
    points = [[0.9, 8.0], [0.5, 2.0], [0.4, 9.0]]  # the last is dominated
    assert pareto.hypervolume(points, [0.0, 10.0], ["maximize", "minimize"]) == pytest.approx(
        0.5 * 8.0 + (0.9 - 0.5) * 2.0
    )
    assert pareto.hypervolume([], [0.0, 10.0], ["maximize", "minimize"]) == 0.0
    cube = pareto.hypervolume([[1, 1, 1]], [3, 3, 3], ["minimize"] * 3)
    assert cube == pytest.approx(8.0)


def test_knee_matches_brute_force_distance_in_2d() -> None:
    rng = np.random.default_rng(3)
    directions = ["maximize", "minimize"]
    for _ in range(40):
        points = rng.random((int(rng.integers(3, 30)), 2))
        front = [i for i, on in enumerate(_brute_front(points.tolist(), directions)) if on]
        f = points[front]
        acc, lat = f[:, 0], f[:, 1]
        if np.ptp(acc) == 0 or np.ptp(lat) == 0:
            continue
        # distance to the line through the two extremes, in normalized units, signed towards the ideal
        a = np.array([(acc.max() - acc[np.argmin(acc)]) / np.ptp(acc), (lat[np.argmin(acc)] - lat.min()) / np.ptp(lat)])
        b = np.array([(acc.max() - acc[np.argmax(acc)]) / np.ptp(acc), (lat[np.argmax(acc)] - lat.min()) / np.ptp(lat)])
        norm = np.column_stack([(acc.max() - acc) / np.ptp(acc), (lat - lat.min()) / np.ptp(lat)])
        direction = (b - a) / np.linalg.norm(b - a)
        rel = norm - a
        cross = rel[:, 0] * direction[1] - rel[:, 1] * direction[0]
        # the ideal point (0, 0) lies on the positive or negative side; orient towards it
        ideal_side = np.sign((-a[0]) * direction[1] - (-a[1]) * direction[0])
        expected = front[int(np.argmax(cross * ideal_side))]
        assert pareto.knee_index(points, directions) == expected


def test_knee_prefers_the_bend() -> None:
    # a clear elbow at (0.85, 2 ms) between a slow accurate and a fast inaccurate model
    points = [[0.9, 20.0], [0.85, 2.0], [0.3, 1.0], [0.5, 30.0]]
    assert pareto.knee_index(points, ["maximize", "minimize"]) == 1
    assert pareto.knee_index([[0.5, 1.0]], ["maximize", "minimize"]) == 0


def test_bad_input_names_the_problem() -> None:
    with pytest.raises(ValueError, match="direction"):
        pareto.non_dominated_mask([[1, 2]], ["maximize", "sideways"])
    with pytest.raises(ValueError, match="2 objectives but 3 directions"):
        pareto.non_dominated_mask([[1, 2]], MIXED)
    with pytest.raises(ValueError, match="NaN"):
        pareto.non_dominated_mask([[1, float("nan")]], ["maximize", "minimize"])
    with pytest.raises(ValueError, match="reference point has 1 values"):
        pareto.hypervolume([[1, 2]], [0], ["maximize", "minimize"])
    with pytest.raises(ValueError, match="up to 3 objectives"):
        pareto.hypervolume([[1, 2, 3, 4]], [0, 0, 0, 0], ["minimize"] * 4)
    with pytest.raises(ValueError, match="empty"):
        pareto.knee_index(np.zeros((0, 2)), ["maximize", "minimize"])


def test_directions_accept_optuna_style_names() -> None:
    class StudyDirection:  # same shape as optuna.study.StudyDirection members
        name = "MAXIMIZE"

    assert pareto.parse_directions([StudyDirection(), "MIN", "Minimize"]) == ["maximize", "minimize", "minimize"]


def test_module_imports_no_framework() -> None:
    code = (
        "import sys, nas.pareto; bad = [m for m in ('tensorflow', 'optuna', 'pandas', 'tf_keras', 'ray')"
        " if m in sys.modules]; print(bad); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_nas_pareto_on_a_constructed_study(tmp_path, capsys) -> None:
    import json

    from nas.cli import main
    from tests.nas.constructed_study import make_study

    name, runs = make_study(tmp_path)
    assert main(["pareto", "--study", name, "--runs-dir", str(runs), "--json",
                 "--reference", "accuracy=0,latency_ms_p50=10,size_bytes=1e6"]) == 0
    out = json.loads(capsys.readouterr().out)
    # trial 0 (MobileNetV2) is dominated by trial 1, trial 3 by trial 1; trial 4 is infeasible,
    # trial 6 reused trial 1's results and trial 7 failed
    assert [row["trial"] for row in out["front"]] == [2, 1, 5]
    assert out["mobilenet_v2"] == [{"trial": 0, "name": "mobilenet_v2_0.35", "on_front": False}]
    expected = pareto.hypervolume([[0.7, 0.8, 40_000], [0.9, 2.0, 150_000], [0.95, 6.0, 500_000]],
                                  [0, 10, 1e6], ["maximize", "minimize", "minimize"])
    assert out["hypervolume"] == pytest.approx(expected)
    assert out["reference"] == {"accuracy": 0.0, "latency_ms_p50": 10.0, "size_bytes": 1e6}

    assert main(["pareto", "--study", name, "--runs-dir", str(runs)]) == 0
    text = capsys.readouterr().out
    assert "hypervolume" in text and "against reference accuracy=0, latency_ms_p50=6.6, size_bytes=550000" in text
    assert "mobilenet_v2_0.35 (trial 0) is NOT on the front" in text

    assert main(["pareto", "--study", name, "--runs-dir", str(runs), "--reference", "accuracy=0"]) == 2
    assert "missing latency_ms_p50, size_bytes" in capsys.readouterr().err
    assert main(["pareto", "--study", "nope", "--runs-dir", str(runs)]) == 2
    assert "no study 'nope'" in capsys.readouterr().err


def test_knee_ties_go_to_the_point_nearest_the_ideal() -> None:
    # Two-point front: both on the line through the extremes. Normalized (acc, lat, size):
    # A = (1, 0, 0) is nearer the ideal than B = (0, 1, 1).
    directions = ["maximize", "minimize", "minimize"]
    a, b = [0.5, 1.0, 10.0], [0.9, 3.0, 50.0]
    assert pareto.knee_index([b, a], directions) == 1
    assert pareto.knee_index([a, b], directions) == 0
    # exact symmetry: the lowest index wins
    assert pareto.knee_index([[0.9, 3.0], [0.5, 1.0]], ["maximize", "minimize"]) == 0


def test_nas_pareto_on_the_tiny_search(tiny_search_study, capsys) -> None:
    """The front `nas pareto` prints is the brute-force front of the real study's trial attributes."""
    import json

    from nas.cli import main
    from nas.record.study import open_study

    assert tiny_search_study["exit_code"] == 0
    args = ["pareto", "--study", tiny_search_study["study"], "--runs-dir", str(tiny_search_study["runs_dir"])]
    assert main([*args, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    study = open_study(tiny_search_study["study"], runs_dir=tiny_search_study["runs_dir"])
    rows = [(t.number, [t.user_attrs["accuracy_int8"], t.user_attrs["latency_ms_p50"], t.user_attrs["size_bytes"]])
            for t in study.trials if t.user_attrs.get("status") == "complete" and not t.user_attrs["reused_from"]]
    directions = ["maximize", "minimize", "minimize"]
    on_front = _brute_front([values for _, values in rows], directions)
    expected = sorted(number for (number, _), on in zip(rows, on_front) if on)
    assert sorted(row["trial"] for row in out["front"]) == expected
    reference = [out["reference"][k] for k in ("accuracy", "latency_ms_p50", "size_bytes")]
    front_values = [values for (_, values), on in zip(rows, on_front) if on]
    assert out["hypervolume"] == pytest.approx(_brute_hypervolume(front_values, reference, directions))
    assert out["mobilenet_v2"] == [{"trial": 0, "name": "mobilenet_v2_0.35", "on_front": 0 in expected}]
    assert main(args) == 0
    assert "hypervolume" in capsys.readouterr().out


def test_knee_tie_preference() -> None:
    directions = ["maximize", "minimize", "minimize"]
    a, b = [0.5, 1.0, 10.0], [0.9, 3.0, 50.0]
    assert pareto.knee_index([a, b], directions) == 0
    assert pareto.knee_index([a, b], directions, tie_preference=[1, 0]) == 1
    # a preference only breaks ties: a clear knee wins whatever its preference
    assert pareto.knee_index([[0.9, 20.0], [0.85, 2.0], [0.3, 1.0]], ["maximize", "minimize"],
                             tie_preference=[0, 1, 0]) == 1
    with pytest.raises(ValueError, match="one value per point"):
        pareto.knee_index([a, b], directions, tie_preference=[1])


def test_direction_aliases_and_optuna_members() -> None:
    from optuna.study import StudyDirection

    assert pareto.parse_directions(["max", "min", " MAXIMIZE ", "Minimize"]) == [
        "maximize", "minimize", "maximize", "minimize"]
    assert pareto.parse_directions(["StudyDirection.MINIMIZE", "StudyDirection.MAXIMIZE"]) == ["minimize", "maximize"]
    assert pareto.parse_directions([StudyDirection.MAXIMIZE, StudyDirection.MINIMIZE]) == ["maximize", "minimize"]
    # an alias means the same as the full name everywhere
    points = [[0.9, 3.0], [0.5, 1.0], [0.4, 2.0]]
    assert pareto.non_dominated_mask(points, ["max", "min"]).tolist() == [True, True, False]
    assert pareto.to_minimization(points, ["StudyDirection.MAXIMIZE", "min"]).tolist() == [
        [-0.9, 3.0], [-0.5, 1.0], [-0.4, 2.0]]
    with pytest.raises(ValueError, match=r"^unknown objective direction 'sideways'; allowed: maximize, minimize$"):
        pareto.parse_directions(["max", "sideways"])
    with pytest.raises(ValueError, match="^at least one objective direction is needed$"):
        pareto.parse_directions([])


def test_dominates_needs_one_strict_improvement() -> None:
    assert pareto.dominates([0.9, 1.0], [0.8, 1.0], ["maximize", "minimize"])
    assert not pareto.dominates([0.9, 1.0], [0.9, 1.0], ["maximize", "minimize"])
    assert not pareto.dominates([0.9, 2.0], [0.8, 1.0], ["maximize", "minimize"])
    assert pareto.dominates([0.8, 1.0], [0.9, 1.0], ["minimize", "minimize"])


def test_empty_inputs() -> None:
    for empty in ([], np.zeros((0, 2))):
        assert pareto.non_dominated_mask(empty, ["max", "min"]).tolist() == []
        assert pareto.non_dominated_mask(empty, ["max", "min"]).dtype == bool
        assert pareto.non_dominated_sort(empty, ["max", "min"]).tolist() == []
        assert pareto.hypervolume(empty, [0.0, 10.0], ["max", "min"]) == 0.0
        with pytest.raises(ValueError, match="^cannot pick a knee from an empty set of points$"):
            pareto.knee_index(empty, ["max", "min"])
    assert pareto.to_minimization([], ["max", "min"]).shape == (0, 2)


def test_one_objective_and_one_dimensional_inputs() -> None:
    points = [[3.0], [5.0], [5.0], [4.0]]
    assert pareto.non_dominated_mask(points, ["minimize"]).tolist() == [True, False, False, False]
    assert pareto.non_dominated_mask(points, ["maximize"]).tolist() == [False, True, True, False]
    assert pareto.non_dominated_sort(points, ["minimize"]).tolist() == [0, 2, 2, 1]
    assert pareto.hypervolume(points, [10.0], ["minimize"]) == 7.0
    assert pareto.hypervolume(points, [0.0], ["maximize"]) == 5.0
    assert pareto.hypervolume(points, [3.0], ["minimize"]) == 0.0  # nothing strictly better than the reference
    assert pareto.knee_index(points, ["maximize"]) == 1  # a constant front: the first of its points
    with pytest.raises(ValueError, match=r"^points must be a 2-D array \(n_points, n_objectives\), got shape \(2,\)$"):
        pareto.non_dominated_mask([0.5, 2.0], ["maximize", "minimize"])
    with pytest.raises(ValueError, match=r"got shape \(1, 1, 2\)$"):
        pareto.knee_index([[[0.5, 2.0]]], ["maximize", "minimize"])
    with pytest.raises(ValueError, match="^points have 1 objectives but 2 directions were given$"):
        pareto.hypervolume([[1.0], [2.0]], [0.0, 0.0], ["maximize", "minimize"])
    with pytest.raises(ValueError, match="^points contain NaN or infinite values; drop incomplete trials first$"):
        pareto.non_dominated_sort([[1.0, float("inf")]], ["maximize", "minimize"])


def test_knee_ignores_an_objective_constant_over_the_front() -> None:
    two = [[0.9, 20.0], [0.85, 2.0], [0.3, 1.0], [0.5, 30.0], [0.8, 2.5]]
    assert pareto.knee_index(two, ["maximize", "minimize"]) == 1
    # the same points with a constant third objective (size): same knee, in any column
    for column in range(3):
        three = [row[:column] + [7.0] + row[column:] for row in two]
        dirs = ["maximize", "minimize"][:column] + ["minimize"] + ["maximize", "minimize"][column:]
        assert pareto.knee_index(three, dirs) == 1, column
    # the constant column is constant on the front only: a dominated point elsewhere does not count
    three = [row + [7.0] for row in two] + [[0.1, 40.0, 1.0]]
    assert pareto.knee_index(three, ["maximize", "minimize", "minimize"]) == 1
    # every objective constant over the front (duplicates): the first front point
    assert pareto.knee_index([[0.2, 9.0], [0.5, 1.0], [0.5, 1.0]], ["maximize", "minimize"]) == 1


def test_knee_in_3d_is_the_point_farthest_on_the_good_side_of_the_unit_plane() -> None:
    # normalized (0 best): a=(0,1,1) b=(1,0,1) c=(1,1,0) d=(0.2,0.2,0.3) e=(0.3,0.3,0.3) -> d is the knee
    points = [[1.0, 10.0, 100.0], [0.0, 0.0, 100.0], [0.0, 10.0, 0.0], [0.8, 2.0, 30.0], [0.7, 3.0, 30.0]]
    assert pareto.knee_index(points, ["maximize", "minimize", "minimize"]) == 3
    assert pareto.knee_index(points[:3] + points[4:], ["maximize", "minimize", "minimize"]) == 3  # e, now

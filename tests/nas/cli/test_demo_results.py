"""The result steps of `nas demo` (compare, export, report) on the tiny search: the same files and the
same printed sections as the commands, without re-parsing command lines."""

from __future__ import annotations


def test_demo_result_steps_on_the_tiny_search(tiny_search_study, tmp_path, capsys) -> None:
    from nas.cli._demo_results import DEMO_WIDTHS, run_result_steps
    from nas.record.points import study_objectives, study_points
    from nas.record.study import open_study
    from nas.results.selection import SelectionRequest, select_model
    from tests.nas.conftest import copy_study

    assert tiny_search_study["exit_code"] == 0
    info = copy_study(tiny_search_study, tmp_path)
    runs, folder = info["runs_dir"], info["runs_dir"] / "tiny"
    assert run_result_steps("tiny", runs) == 0
    printed = capsys.readouterr().out

    sections = ["== demo: comparison with MobileNetV2 ==", "== demo: export of the Pareto-best model",
                "== demo: report ==", "== demo: result =="]
    positions = [printed.index(s) for s in sections]
    assert positions == sorted(positions)
    # as `nas compare --widths 0.35,1.0`: the study's own reference reused, the others evaluated
    assert "mobilenet_v2_0.35: study trial 0" in printed and "mobilenet_v2_1.0: evaluated" in printed
    for width in DEMO_WIDTHS:
        assert (folder / "baselines" / f"mobilenet_v2_{width}_r16" / "result.json").is_file()
    # as `nas export --overwrite`: the knee of the front, verified
    study = open_study("tiny", runs_dir=runs)
    knee = select_model(study_points(study), SelectionRequest(), study_objectives(study)).point
    export_dir = folder / "export" / f"trial_{knee.trial_number}"
    assert f"exporting trial {knee.trial_number}" in printed and f"export verified: {export_dir}" in printed
    assert (export_dir / "model.tflite").is_file() and (export_dir / "export.json").is_file()
    # as `nas report`, then the recap against MobileNetV2
    assert (folder / "report.html").is_file() and (folder / "pareto.png").is_file()
    recap = printed[positions[-1]:]
    assert f"exported trial {knee.trial_number}: {export_dir}" in recap and "mobilenet_v2_1.0" in recap


def test_a_failed_demo_step_says_how_to_rerun_it(tmp_path, capsys) -> None:
    from nas.cli._demo_results import run_result_steps
    from tests.nas.constructed_study import make_study

    name, runs = make_study(tmp_path)  # a study without a stored search config: compare cannot evaluate
    assert run_result_steps(name, runs) == 2
    captured = capsys.readouterr()
    assert "nas compare: study 'constructed' has no stored search config" in captured.err
    assert (f"demo step failed (comparison with MobileNetV2); rerun it with: nas compare --study {name} "
            f"--runs-dir {runs} --widths 0.35,1.0") in captured.out


def test_the_recap_speaks_of_the_exported_model_and_names_the_dominating_ones(tmp_path) -> None:
    """Issue 14: the recap said "mobilenet_v2_1.0: not dominated" right after a table saying trials 1
    and 4 dominate it; it meant "not by the exported model". Now it says so and names trials 1 and 4."""
    from types import SimpleNamespace

    from nas.cli._demo_results import recap_lines
    from nas.record.points import OBJECTIVES, ModelPoint

    def point(number, accuracy, latency, size, baseline=None):
        return ModelPoint(label=f"trial {number}", architecture=f"arch{number}", accuracy=accuracy,
                          latency_ms_p50=latency, size_bytes=size, trial_number=number, baseline=baseline)

    exported = point(2, 0.80, 0.5, 50_000)           # the knee: fast, small, less accurate than MobileNetV2
    points = [point(0, 0.90, 4.0, 900_000, baseline="mobilenet_v2_1.0"),
              point(1, 0.92, 3.0, 400_000), exported, point(3, 0.60, 0.4, 40_000), point(4, 0.91, 2.0, 300_000)]
    results = SimpleNamespace(folder=tmp_path, points=points, objectives=dict(OBJECTIVES))
    [line] = recap_lines(exported, results)
    assert line.startswith("mobilenet_v2_1.0 (trial 0) (90.0 %, 4.00 ms): the exported model does not dominate it; ")
    assert "dominated by trial 1, trial 4 of the front" in line or "dominated by trial 4, trial 1 of the front" in line
    assert line.endswith("the exported model is less accurate")
    assert "not dominated" not in line

    faster = point(5, 0.95, 1.0, 100_000)  # an exported model that beats it on every objective
    results.points = [*points, faster]
    [line] = recap_lines(faster, results)
    assert "the exported model dominates it" in line and "the exported model is 4.00x faster" in line

    slower = point(6, 0.97, 5.0, 100_000)  # as accurate as MobileNetV2 1.0 but slower: never "0.80x faster"
    results.points = [*points, slower]
    [line] = recap_lines(slower, results)
    assert line.endswith("the exported model is at least as accurate but slower (1.25x its latency)")

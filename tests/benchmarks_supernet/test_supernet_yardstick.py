"""The yardstick read-out (docs/supernet.md, "The yardstick's own noise, measured")."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks import supernet_yardstick

TRUTH = [0.70 + 0.005 * i for i in range(12)]


def _write(path: Path, key: str, values: list[float], archs: list[str] | None = None) -> Path:
    archs = archs or [f"a{i}" for i in range(len(values))]
    rows = [{"name": f"net{i:02d}", "architecture": a, key: v} for i, (a, v) in enumerate(zip(archs, values))]
    path.write_text(json.dumps({"rows": rows}))
    return path


def _swap_pairs(values: list[float]) -> list[float]:
    """Neighbours swapped: 6 discordant pairs of 66, tau = 1 - 2 * 6 / 66."""
    out = list(values)
    for i in range(0, len(out) - 1, 2):
        out[i], out[i + 1] = out[i + 1], out[i]
    return out


def test_test_retest_per_supernet_and_ensembles(tmp_path):
    s0 = _write(tmp_path / "s0.json", "accuracy_int8_scratch", TRUTH)
    s1 = _write(tmp_path / "s1.json", "accuracy_int8_scratch", _swap_pairs(TRUTH))
    good = _write(tmp_path / "base_s0.json", "accuracy_int8_inherited", TRUTH)
    reversed_ = _write(tmp_path / "base_s1.json", "accuracy_int8_inherited", TRUTH[::-1])
    out = supernet_yardstick.read_out([s0, s1], [good, reversed_], resamples=100)
    (retest,) = out["test_retest"]
    assert retest["prediction"] == "scratch seed 1" and retest["reference"] == "scratch seed 0"
    assert retest["kendall_tau"] == pytest.approx(1 - 12 / 66, abs=1e-4)
    taus = {(r["prediction"], r["reference"]): r["kendall_tau"] for r in out["per_supernet"]}
    assert taus[("base_s0", "scratch seed 0")] == 1.0 and taus[("base_s1", "scratch seed 0")] == -1.0
    assert len(taus) == 2 * 3  # each supernet against seed 0, seed 1 and their mean
    assert out["secondary_rule_against_scratch_mean"]["met"] is False
    pair = [e for e in out["ensembles"] if e["k"] == 2 and e["reference"] == "scratch seed 0"]
    assert len(pair) == 1 and pair[0]["combinations"] == 1
    single = [e for e in out["ensembles"] if e["k"] == 1 and e["reference"] == "scratch seed 0"][0]
    assert single["kendall_tau_max"] == 1.0 and single["kendall_tau_min"] == -1.0


def test_the_mean_of_two_columns_is_per_subnet():
    assert supernet_yardstick.mean_column([{"a": 0.5, "b": 0.7}, {"a": 0.7, "c": 0.1}]) == {"a": pytest.approx(0.6)}


def test_results_of_other_subnets_are_refused(tmp_path):
    s0 = _write(tmp_path / "s0.json", "accuracy_int8_scratch", TRUTH)
    other = _write(tmp_path / "s1.json", "accuracy_int8_scratch", TRUTH, archs=[f"b{i}" for i in range(12)])
    sup = _write(tmp_path / "base_s0.json", "accuracy_int8_inherited", TRUTH)
    with pytest.raises(ValueError, match="net00 is b0 here but a0"):
        supernet_yardstick.read_out([s0, other], [sup], resamples=10)
    with pytest.raises(ValueError, match="at least two scratch results"):
        supernet_yardstick.read_out([s0], [sup])


def test_the_command_names_a_missing_file_in_one_line(tmp_path, capsys):
    assert supernet_yardstick.main(["--scratch", str(tmp_path / "a.json"), str(tmp_path / "b.json"),
                                    "--supernets", str(tmp_path / "c.json"), "--out", str(tmp_path / "o.json")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "a.json" in err and err.count("\n") == 1

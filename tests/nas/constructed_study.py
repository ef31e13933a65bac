"""A study built from ``optuna.trial.create_trial`` records with the trial user attributes of the
study record (nas/study.py, nas/pipeline.py), for the results commands' logic tests."""

from __future__ import annotations

from pathlib import Path

import optuna

MBV2 = (
    "in16x1-stem_c8_k3_s2_relu6-ir_r1_k3_s1_e1_c8_relu6-ir_r2_k3_s2_e6_c8_relu6"
    "-head_c64_relu6-cls10"
)

# (accuracy, latency ms, size bytes, status); trial 0 is the MobileNetV2 reference.
TRIALS = [
    (0.80, 3.0, 200_000, "complete"),
    (0.90, 2.0, 150_000, "complete"),  # dominates the reference
    (0.70, 0.8, 40_000, "complete"),
    (0.60, 2.5, 300_000, "complete"),  # dominated
    (None, 9.0, 900_000, "infeasible"),  # broke max latency: not trained
    (0.95, 6.0, 500_000, "complete"),
]


def trial_attrs(number: int, accuracy, latency_ms, size_bytes, status) -> dict:
    arch = MBV2 if number == 0 else MBV2.replace("e6_c8", f"e{number}_c{8 * number}")
    return {
        "architecture": arch,
        "status": status,
        "is_reference": number == 0,
        "reference_name": "mobilenet_v2_0.35" if number == 0 else None,
        "reused_from": None,
        "trained": accuracy is not None,
        "accuracy_int8": accuracy,
        "latency_ms_p50": latency_ms,
        "latency_ms": {"p50": latency_ms, "mean": latency_ms, "count": 20},
        "size_bytes": size_bytes,
        "params": size_bytes // 4,
        "macs": size_bytes * 10,
        "device": {"machine": "x86_64", "cpu_count": 2, "system": "Linux"},
        "constraint_violations": ["max_latency_ms"] if status == "infeasible" else [],
        "timings_s": {},
        "artifacts": {},
        "metrics": {},
    }


def make_study(tmp_path: Path, name: str = "constructed") -> tuple[str, Path]:
    """Write the study to ``tmp_path/runs/<name>/study.db``; returns (name, runs_dir)."""
    runs = tmp_path / "runs"
    (runs / name).mkdir(parents=True)
    storage = f"sqlite:///{runs / name / 'study.db'}"
    study = optuna.create_study(study_name=name, storage=storage, directions=["maximize", "minimize", "minimize"])
    study.set_user_attr("objectives", ["accuracy", "latency", "size"])
    study.set_user_attr("study_dir", str(runs / name))
    dist = {"width": optuna.distributions.IntDistribution(1, 8)}
    for number, (acc, lat, size, status) in enumerate(TRIALS):
        study.add_trial(
            optuna.trial.create_trial(
                params={"width": number + 1},
                distributions=dist,
                values=[acc or 0.0, lat, size],
                user_attrs=trial_attrs(number, acc, lat, size, status),
            )
        )
    # a duplicate of trial 1 that reused its results, and a failed candidate
    study.add_trial(optuna.trial.create_trial(
        params={"width": 2}, distributions=dist, values=[0.90, 2.0, 150_000],
        user_attrs=trial_attrs(1, 0.90, 2.0, 150_000, "complete") | {"reused_from": 1}))
    study.add_trial(optuna.trial.create_trial(
        params={"width": 8}, distributions=dist, state=optuna.trial.TrialState.FAIL,
        user_attrs={"architecture": "x", "status": "failed", "failure_reason": "did not convert"}))
    return name, runs


SMALL_16PX = "in16x1-stem_c8_k3_s2_relu6-ir_r1_k3_s1_e1_c8_relu6-ir_r2_k3_s2_e3_c16_relu6-head_c64_relu6-cls10"


def make_trainable_study(tmp_path: Path, name: str = "trainable") -> tuple[str, Path]:
    """A study whose trials are real architectures for digits at 16 px and whose stored config is a
    real `nas search` config (1 proxy epoch), so export / compare can train and convert them.
    Trial metrics are stated, not measured: use it where only the chosen architecture matters."""
    from nas.config import load_config
    from search_spaces import arch_cost, get_baseline
    from search_spaces.architecture import Architecture

    runs = tmp_path / "runs"
    (runs / name).mkdir(parents=True)
    config = load_config(overrides={"training.epochs": 1, "search_space.resolutions": [16],
                                    "study.name": name, "study.runs_dir": str(runs)})
    study = optuna.create_study(study_name=name, storage=f"sqlite:///{runs / name / 'study.db'}",
                                directions=["maximize", "minimize", "minimize"])
    study.set_user_attr("config", config.as_dict())
    study.set_user_attr("objectives", ["accuracy", "latency", "size"])
    study.set_user_attr("study_dir", str((runs / name).resolve()))
    mbv2 = get_baseline("mobilenet_v2_0.35").with_input(resolution=16, channels=1, num_classes=10).to_string()
    for number, (arch, acc, lat, size) in enumerate([(mbv2, 0.5, 0.5, 400_000), (SMALL_16PX, 0.8, 0.1, 20_000)]):
        attrs = trial_attrs(number, acc, lat, size, "complete") | {"architecture": arch}
        cost = arch_cost(Architecture.from_string(arch))
        attrs.update(params=cost.params, macs=cost.macs)
        study.add_trial(optuna.trial.create_trial(params={}, distributions={}, values=[acc, lat, size],
                                                  user_attrs=attrs))
    return name, runs

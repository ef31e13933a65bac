"""Bad input to `nas` gives one line naming the problem, never a traceback, and never writes (issue 12, "Search").

- a bad search space (typo'd key, even kernel, negative width) or reference is a config error, found
  before the dataset loads: exit 2, one line with the key and the allowed values;
- a damaged study file (truncated SQLite, not a database) is named, said to be damaged and left as it was,
  by every command that reads it;
- ``resume with:`` is printed only when there is a study to resume.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import optuna
import pytest

from nas.cli import main
from search_spaces.space import DEFAULT_SPACE_PATH

DEFAULT_YAML = Path(DEFAULT_SPACE_PATH).read_text()


@pytest.fixture()
def no_search(monkeypatch):
    """Fail the test if the search (and with it the dataset) would start."""
    def refuse(*args, **kwargs):
        raise AssertionError("the search started: the config should have been refused first")

    monkeypatch.setattr("nas.strategies.run_search", refuse)


def _one_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


@pytest.mark.parametrize(
    "old, new, expected",
    [
        ("expansion: [3, 4, 6],\n     kernel: [3, 5], width: [0.75, 1.0, 1.25], depth: [1, 2, 3]}",
         "expansoin: [3, 4, 6],\n     kernel: [3, 5], width: [0.75, 1.0, 1.25], depth: [1, 2, 3]}",
         ["stages[2]: unknown key 'expansoin'", "allowed keys: channels, stride, block, expansion, kernel"]),
        ("kernel: [3, 5]", "kernel: [3, 4]",
         ["stages[2].kernel: 4 is not allowed", "allowed: odd positive integers"]),
        ("width: [0.35, 0.5, 0.75, 1.0]", "width: [-0.5, 1.0]",
         ["width: values must be positive", "-0.5", "allowed: numbers > 0"]),
        ("depth: [1, 2, 3]}", "depth: [0, 2]}",
         ["stages[2].depth: 0 is not allowed", "allowed: positive integers"]),
    ],
    ids=["typo-key", "even-kernel", "negative-width", "zero-depth"],
)
def test_bad_search_space_is_one_line_before_the_dataset(old, new, expected, tmp_path, no_search, capsys):
    assert old in DEFAULT_YAML
    space = tmp_path / "space.yaml"
    space.write_text(DEFAULT_YAML.replace(old, new, 1))
    code = main(["search", "--search_space.source", str(space), "--runs-dir", str(tmp_path / "runs")])
    line = _one_line(capsys.readouterr().err)
    assert code == 2
    assert line.startswith(f"nas search: invalid config: search_space.source {space}: ")
    for text in expected:
        assert text in line
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize(
    "flags, expected",
    [
        (["--reference", "mobilenet_v9"], "reference.baseline: unknown baseline 'mobilenet_v9'; known: mobilenet_v2"),
        (["--search_space.resolutions", "[4]"], "search_space.resolutions: must be >= 8, got 4"),
        (["--set", "training.epochz=1"], "unknown config key 'training.epochz'; allowed keys: epochs"),
    ],
)
def test_other_bad_config_is_refused_before_the_dataset(flags, expected, tmp_path, no_search, capsys):
    code = main(["search", "--runs-dir", str(tmp_path / "runs"), *flags])
    line = _one_line(capsys.readouterr().err)
    assert code == 2 and expected in line


# ---- damaged study files ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def study_file(tmp_path_factory) -> Path:
    """A whole study of 20 trials, made once and copied by each test."""
    db = tmp_path_factory.mktemp("template") / "study.db"
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(study_name="demo", storage=f"sqlite:///{db}")
    study.optimize(lambda trial: trial.suggest_float("x", 0, 1), n_trials=20)
    return db


def _make_study(runs: Path, template: Path) -> Path:
    db = runs / "demo" / "study.db"
    db.parent.mkdir(parents=True)
    shutil.copy(template, db)
    return db


def _truncate(db: Path) -> None:
    data = db.read_bytes()
    db.write_bytes(data[: len(data) // 2])


def _overwrite(db: Path) -> None:
    db.write_bytes(b"this is not a database, it was overwritten by an editor\n" * 100)


@pytest.mark.parametrize("damage", [_truncate, _overwrite], ids=["truncated", "not-a-database"])
@pytest.mark.parametrize("command", ["search", "trials", "pareto", "export", "compare", "report"])
def test_damaged_study_file_is_named_and_left_alone(command, damage, study_file, tmp_path, no_search, capsys):
    runs = tmp_path / "runs"
    db = _make_study(runs, study_file)
    damage(db)
    before = hashlib.sha256(db.read_bytes()).hexdigest()
    code = main([command, "--study", "demo", "--runs-dir", str(runs)])
    line = _one_line(capsys.readouterr().err)
    assert code != 0
    assert f"study file {db} is damaged" in line and "nothing was written to it" in line
    assert hashlib.sha256(db.read_bytes()).hexdigest() == before
    assert sorted(p.name for p in db.parent.iterdir()) == ["study.db"]


def test_damaged_journal_file_is_named(tmp_path, capsys):
    journal = tmp_path / "study.log"
    journal.write_text('garbage\n{"op_code": 0')
    code = main(["trials", "--storage", f"journal://{journal}"])
    line = _one_line(capsys.readouterr().err)
    assert code == 2 and f"study file {journal}" in line and "is damaged" in line
    assert journal.read_text() == 'garbage\n{"op_code": 0'


def test_a_whole_study_file_still_opens(study_file, tmp_path, capsys):
    runs = tmp_path / "runs"
    _make_study(runs, study_file)
    assert main(["trials", "--study", "demo", "--runs-dir", str(runs), "--all"]) == 0
    assert "damaged" not in capsys.readouterr().err


# ---- the resume hint ---------------------------------------------------------------------------------
def _stop_on_dataset(monkeypatch) -> None:
    from nas.trial.protocol import FatalSearchError

    def stop(*args, **kwargs):
        raise FatalSearchError("dataset 'folder:/nowhere' cannot be loaded: image folder not found: /nowhere")

    monkeypatch.setattr("nas.strategies.run_search", stop)


def test_no_resume_hint_without_a_study(tmp_path, monkeypatch, capsys):
    _stop_on_dataset(monkeypatch)
    code = main(["search", "--runs-dir", str(tmp_path / "runs"), "--dataset", "folder:/nowhere"])
    err = capsys.readouterr().err
    assert code == 1 and "image folder not found" in err
    assert "resume" not in err
    assert not (tmp_path / "runs").exists()  # asking did not create a study file


def test_resume_hint_when_the_study_holds_trials(study_file, tmp_path, monkeypatch, capsys):
    runs = tmp_path / "runs"
    _make_study(runs, study_file)
    _stop_on_dataset(monkeypatch)
    code = main(["search", "--runs-dir", str(runs), "--dataset", "folder:/nowhere"])
    err = capsys.readouterr().err
    assert code == 1 and "image folder not found" in err
    assert "resume with: nas search" in err and "--resume" in err

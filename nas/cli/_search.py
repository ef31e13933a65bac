"""Run a search and print its summary: shared by `nas search` and `nas demo`."""

from __future__ import annotations

import json
import shlex
import sys
from typing import Any

from nas.config import ConfigError


def resume_command(config_path: str | None, overrides: list[tuple[str, Any]]) -> str:
    """The command that continues this search: the same config and flags, plus ``--resume``."""
    words = ["nas", "search"]
    if config_path:
        words += ["--config", config_path]
    for key, value in overrides:
        words += [f"--{key}", value if isinstance(value, str) else json.dumps(value)]
    words.append("--resume")
    return " ".join(shlex.quote(str(w)) for w in words)


def execute(config, *, resume: bool = False, quiet: bool = False, json_output: bool = False,
            resume_hint: str | None = None) -> int:
    """Run the search of ``config`` and print its summary; the exit code of ``nas search``."""
    if resume_hint is None:
        resume_hint = resume_command(None, [("study.runs_dir", str(config.study.runs_dir))])
    from nas.record.study import StudyError, open_study
    from nas.strategies import run_search
    from nas.trial.protocol import FatalSearchError
    from search_spaces.space import SearchSpaceError

    try:
        check_study_file(config.storage_url)  # a damaged study stops here, before the dataset loads
        if resume:
            open_study(config.study.name, config.study.storage, config.study.runs_dir)
    except StudyError as exc:
        print(f"nas search: {'nothing to resume: ' if resume else ''}{exc}", file=sys.stderr)
        return 2
    mode = "json" if json_output else "quiet" if quiet else "bar"
    try:
        summary = run_search(config, progress=mode)
    except (ConfigError, SearchSpaceError) as exc:  # a space that does not fit the dataset's input
        print(f"nas search: invalid config: {exc}", file=sys.stderr)
        return 2
    except (FatalSearchError, StudyError) as exc:
        print(f"nas search: stopped: {exc}{_resume_line(config, resume_hint)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"\nnas search: interrupted{_resume_line(config, resume_hint)}", file=sys.stderr)
        return 130
    if json_output:
        print(json.dumps({"event": "summary", **summary.to_dict()}), flush=True)
    else:
        print(format_summary(summary))
    if summary.problems:
        print(f"nas search: incomplete: {'; '.join(summary.problems)}\nresume with: {resume_hint}", file=sys.stderr)
        return 1
    return 0


def check_study_file(url: str) -> None:
    """Raise ``StudyError`` when the study's SQLite file exists and is damaged (nothing is written)."""
    from pathlib import Path

    from nas.record.storage import SQLITE_PREFIX, check_sqlite_file

    if url.startswith(SQLITE_PREFIX):
        check_sqlite_file(Path(url[len(SQLITE_PREFIX):]))


def has_study(config) -> bool:
    """Whether the storage of ``config`` holds its study with at least one trial (something to resume);
    a missing SQLite or journal file is not created by asking."""
    from pathlib import Path

    from nas.record.storage import JOURNAL_PREFIX, SQLITE_PREFIX, _journal_path, is_file_storage
    from nas.record.study import StudyError, open_study

    url = config.storage_url
    if is_file_storage(url):
        path = (Path(url[len(SQLITE_PREFIX):]) if url.startswith(SQLITE_PREFIX)
                else _journal_path(url) if url.startswith(JOURNAL_PREFIX) else Path(url))
        if not path.is_file():
            return False
    try:
        study = open_study(config.study.name, url)
    except StudyError:
        return False
    return bool(study.get_trials(deepcopy=False))


def _resume_line(config, resume_hint: str) -> str:
    return f"\nresume with: {resume_hint}" if has_study(config) else ""


def format_summary(summary) -> str:
    """The end-of-search text: counts, where the study is, its front and the reference."""
    from nas.record.study import open_study
    from nas.results.trials import trials_table

    lines = [
        f"study {summary.study_name}: {summary.n_done}/{summary.n_target} trials done "
        f"({summary.new_trials} new, {summary.elapsed_s:.0f} s) in {summary.storage_url}",
    ]
    if summary.recovered_trials:
        lines.append(f"interrupted trials retried: {summary.recovered_trials}")
    study = open_study(summary.study_name, summary.storage_url)
    numbers = set(summary.best_trials)
    if summary.reference_trial is not None:
        numbers.add(summary.reference_trial)
    table = trials_table(study)
    if numbers and not table.empty:
        front = table[table["trial"].isin(sorted(numbers))]
        lines.append("Pareto front (feasible) and the reference:")
        lines.append(front.to_string(index=False))
    lines.append(f"all trials: nas trials --study {summary.study_name} --storage {summary.storage_url}")
    return "\n".join(lines)

"""Live progress of a search: a tqdm bar (trials done, best accuracy, front size, elapsed / ETA),
one log line per finished trial, or JSON lines for scripts (``--json``), or nothing (``--quiet``)."""

from __future__ import annotations

import dataclasses
import json
import logging
import sys
from typing import Any, TextIO

from optuna.trial import FrozenTrial

from nas.record.points import trial_summary
from nas.record.trial_record import TrialRecord
from nas.trial import agent_waits

logger = logging.getLogger("nas.strategies._loop")


def format_trial_line(trial: FrozenTrial) -> str:
    """One human line per finished trial."""
    record = TrialRecord.from_trial(trial)
    parts = [f"trial {trial.number}"]
    if record.is_reference:
        parts.append("[reference]")
    parts.append(str(record.status or trial.state.name.lower()))
    if record.accuracy_int8 is not None:
        parts.append(f"acc_int8={record.accuracy_int8:.4f}")
    if record.latency_ms_p50 is not None:
        parts.append(f"latency_p50={record.latency_ms_p50:.3f}ms")
    if record.size_bytes is not None:
        parts.append(f"size={record.size_bytes / 1024:.1f}KiB")
    if record.reused_from is not None:
        parts.append(f"(reused from trial {record.reused_from})")
    if record.constraint_violations:
        parts.append(f"violates {','.join(record.constraint_violations)}")
    if record.failure_reason:
        parts.append(f"reason: {record.failure_reason}")
    if record.timings_s.get("total") is not None:
        parts.append(f"in {record.timings_s.get('total'):.1f}s")
    parts.append(f"arch={record.architecture}")
    return " ".join(parts)


class SearchProgress:
    """Reports finished trials. ``mode`` is ``bar`` (tqdm + log lines), ``json`` or ``quiet``."""

    def __init__(self, *, total: int, done: int, mode: str = "bar", stream: TextIO | None = None) -> None:
        if mode not in ("bar", "json", "quiet"):
            raise ValueError(f"progress mode {mode!r} is not one of bar, json, quiet")
        self.mode = mode
        # Bound now: KerasTuner's prints are redirected away from sys.stdout while trials run.
        self.stream = stream if stream is not None else (sys.stdout if mode == "json" else sys.stderr)
        self.best_accuracy: float | None = None
        self.front_size = 0
        self._bar = None
        if mode == "bar":
            from tqdm.auto import tqdm

            self._bar = tqdm(total=total, initial=done, unit="trial", desc="search",
                             file=self.stream, dynamic_ncols=True)
        self._unsubscribe = agent_waits.subscribe(self.agent_waiting)

    def agent_waiting(self, wait: agent_waits.AgentWait) -> None:
        """A busy agent keeps a trial waiting: say so in the bar (or as a JSON event), not as a failure."""
        if self.mode == "json":
            event = {"event": "agent_wait", **dataclasses.asdict(wait)}
            print(json.dumps(event), file=self.stream, flush=True)
        elif self.mode == "bar":
            self._bar.set_postfix_str(f"waiting for busy agent {wait.url}: {wait.waited_s:.0f}s "
                                      f"({wait.left_s:.0f}s left)", refresh=True)

    def trial_finished(self, trial: FrozenTrial, *, front_size: int, count_as_done: bool) -> None:
        record = TrialRecord.from_trial(trial)
        acc = record.accuracy_int8
        better = acc is not None and (self.best_accuracy is None or acc > self.best_accuracy)
        if better and not record.constraint_violations:
            self.best_accuracy = acc
        self.front_size = front_size
        if self.mode == "json":
            print(json.dumps({"event": "trial", **trial_summary(trial)}), file=self.stream, flush=True)
        elif self.mode == "bar":
            line = format_trial_line(trial)
            # tqdm.write keeps the bar intact below the log lines.
            self._bar.write(line, file=self.stream)
            logger.debug(line)
            best = "-" if self.best_accuracy is None else f"{self.best_accuracy:.4f}"
            self._bar.set_postfix(best_acc=best, front=front_size, refresh=False)
            if count_as_done:
                self._bar.update(1)  # redraws with the new postfix
            else:
                self._bar.refresh()

    def close(self) -> None:
        self._unsubscribe()
        if self._bar is not None:
            self._bar.close()

    def __enter__(self) -> SearchProgress:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


"""Live progress of a search: a tqdm bar (trials done, best accuracy, front size, elapsed / ETA),
one log line per finished trial, or JSON lines for scripts (``--json``), or nothing (``--quiet``)."""

from __future__ import annotations

import json
import logging
import sys
from typing import Any, Mapping, TextIO

from optuna.trial import FrozenTrial

from nas.record import study as record
logger = logging.getLogger("nas.strategies._loop")


def trial_summary(trial: FrozenTrial) -> dict[str, Any]:
    """The headline numbers of a finished trial (also the JSON line of ``--json``)."""
    attrs = trial.user_attrs
    return {
        "trial": trial.number,
        "state": trial.state.name,
        "status": attrs.get(record.ATTR_STATUS),
        "is_reference": bool(attrs.get(record.ATTR_IS_REFERENCE)),
        "architecture": attrs.get(record.ATTR_ARCHITECTURE),
        "accuracy_int8": attrs.get("accuracy_int8"),
        "latency_ms_p50": attrs.get("latency_ms_p50"),
        "size_bytes": attrs.get("size_bytes"),
        "reused_from": attrs.get(record.ATTR_REUSED_FROM),
        "constraint_violations": attrs.get("constraint_violations", []),
        "failure_reason": attrs.get(record.ATTR_FAILURE_REASON),
        "duration_s": (attrs.get("timings_s") or {}).get("total"),
        "values": trial.values,
    }


def format_trial_line(summary: Mapping[str, Any]) -> str:
    """One human line per finished trial."""
    parts = [f"trial {summary['trial']}"]
    if summary["is_reference"]:
        parts.append("[reference]")
    parts.append(str(summary["status"] or summary["state"].lower()))
    if summary["accuracy_int8"] is not None:
        parts.append(f"acc_int8={summary['accuracy_int8']:.4f}")
    if summary["latency_ms_p50"] is not None:
        parts.append(f"latency_p50={summary['latency_ms_p50']:.3f}ms")
    if summary["size_bytes"] is not None:
        parts.append(f"size={summary['size_bytes'] / 1024:.1f}KiB")
    if summary["reused_from"] is not None:
        parts.append(f"(reused from trial {summary['reused_from']})")
    if summary["constraint_violations"]:
        parts.append(f"violates {','.join(summary['constraint_violations'])}")
    if summary["failure_reason"]:
        parts.append(f"reason: {summary['failure_reason']}")
    if summary["duration_s"] is not None:
        parts.append(f"in {summary['duration_s']:.1f}s")
    parts.append(f"arch={summary['architecture']}")
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

    def trial_finished(self, trial: FrozenTrial, *, front_size: int, count_as_done: bool) -> None:
        summary = trial_summary(trial)
        acc = summary["accuracy_int8"]
        feasible = not summary["constraint_violations"]
        if acc is not None and feasible and (self.best_accuracy is None or acc > self.best_accuracy):
            self.best_accuracy = acc
        self.front_size = front_size
        if self.mode == "json":
            print(json.dumps({"event": "trial", **summary}), file=self.stream, flush=True)
        elif self.mode == "bar":
            line = format_trial_line(summary)
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
        if self._bar is not None:
            self._bar.close()

    def __enter__(self) -> "SearchProgress":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


"""One device, one measurement at a time: sandboxed runs plus device state and throttling.

Shared by the agent and :class:`edge_profiler.client.LocalProfiler`, so both return the same
schema. A lock serialises measurements within a process (the agent also has a single worker
thread). If the device throttled during a measurement, the result says so, and with
``CooldownPolicy(retries=N)`` the measurer waits for the temperature to drop and measures again.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from edge_profiler.device import describe_device, max_temperature_c, throttle_state, throttled_between
from edge_profiler.params import MeasureParams
from edge_profiler.sandbox import SandboxLimits, run_in_subprocess

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class CooldownPolicy:
    """Re-measure up to ``retries`` times after a throttled run, first waiting until the hottest
    thermal zone is below ``target_temp_c`` and no throttling flag is active (at most ``max_wait_s``)."""

    retries: int = 0
    target_temp_c: float = 60.0
    max_wait_s: float = 120.0
    poll_s: float = 2.0

    def __post_init__(self) -> None:
        if self.retries < 0 or self.max_wait_s < 0 or self.poll_s <= 0:
            raise ValueError(f"invalid cool-down policy {self}")


class Measurer:
    """Measure models on this machine, one at a time, each in a fresh sandboxed subprocess."""

    def __init__(self, limits: SandboxLimits | None = None, cooldown: CooldownPolicy | None = None, *,
                 measured_by: str = "local",
                 state_fn: Callable[[], dict[str, Any]] = throttle_state,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.limits = limits or SandboxLimits()
        self.cooldown = cooldown or CooldownPolicy()
        self.measured_by = measured_by
        self._state_fn = state_fn
        self._sleep = sleep
        self._lock = threading.Lock()

    def measure(self, model: bytes, params: MeasureParams) -> dict[str, Any]:
        """The full result schema of ``docs/interfaces.md``; raises ``ProfilerError``."""
        with self._lock:
            attempt = 0
            while True:
                attempt += 1
                before = self._state_fn()
                started_at = time.time()
                result = run_in_subprocess(model, params, self.limits)
                finished_at = time.time()
                throttled = throttled_between(before, self._state_fn())
                if not throttled or attempt > self.cooldown.retries:
                    break
                logger.warning("device throttled during measurement %d of %s; cooling down",
                               attempt, result["model_sha256"][:12])
                self._wait_for_cooldown()
            result.update({
                "device": describe_device(runtime=self.limits.runtime),
                "throttled": throttled,
                "attempts": attempt,
                "cached": False,
                "measured_by": self.measured_by,
                "started_at": started_at,
                "finished_at": finished_at,
            })
            return result

    def _wait_for_cooldown(self) -> None:
        deadline = time.monotonic() + self.cooldown.max_wait_s
        while time.monotonic() < deadline:
            state = self._state_fn()
            temp = max_temperature_c(state)
            flags = state.get("vcgencmd") or {}
            hot = temp is not None and temp >= self.cooldown.target_temp_c
            if not hot and not any(v for k, v in flags.items() if k.endswith("_now")):
                return
            self._sleep(self.cooldown.poll_s)
        logger.warning("device still hot after %.0f s of cool-down; measuring anyway", self.cooldown.max_wait_s)

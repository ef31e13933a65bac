"""Waits for busy profiler agents, passed from the profiler client to whoever shows progress.

``edge_profiler.client.RemoteProfiler`` waits for a busy agent until its deadline (issue 12: a
search with more workers than Pis waits its turn instead of failing trials) and reports each wait
through its ``on_wait`` callback. The trial pipeline cannot see the search's progress bar (it sits
a layer above), so the waits are published here and the progress subscribes to them.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable


@dataclasses.dataclass(frozen=True)
class AgentWait:
    """One wait for a busy agent: which agent, why, how long so far, and how long until giving up."""

    url: str
    kind: str
    waited_s: float
    left_s: float


_subscribers: list[Callable[[AgentWait], None]] = []
_lock = threading.Lock()


def subscribe(callback: Callable[[AgentWait], None]) -> Callable[[], None]:
    """Call ``callback`` on every wait in this process; returns the function that unsubscribes."""
    with _lock:
        _subscribers.append(callback)

    def unsubscribe() -> None:
        with _lock:
            if callback in _subscribers:
                _subscribers.remove(callback)

    return unsubscribe


def publish(url: str, kind: str, waited_s: float, left_s: float) -> None:
    """The ``on_wait`` callback given to ``RemoteProfiler``: tell every subscriber."""
    wait = AgentWait(url=url, kind=kind, waited_s=float(waited_s), left_s=float(left_s))
    with _lock:
        callbacks = list(_subscribers)
    for callback in callbacks:
        callback(wait)

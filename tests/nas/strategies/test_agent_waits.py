"""A search waiting for a busy agent shows the wait in its progress (issue 12), in every mode."""

from __future__ import annotations

import io
import json

from nas.config import load_config
from nas.strategies._progress import SearchProgress
from nas.trial import agent_waits
from nas.trial.evaluation import make_profiler


def test_json_progress_reports_each_wait_and_stops_after_close():
    stream = io.StringIO()
    with SearchProgress(total=3, done=0, mode="json", stream=stream):
        agent_waits.publish("http://pi-1:8731", "busy", 4.2, 95.8)
    agent_waits.publish("http://pi-1:8731", "busy", 9.0, 91.0)  # after close: nobody listens
    events = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert events == [{"event": "agent_wait", "url": "http://pi-1:8731", "kind": "busy",
                       "waited_s": 4.2, "left_s": 95.8}]


def test_bar_progress_shows_the_agent_and_the_time_left():
    stream = io.StringIO()
    with SearchProgress(total=3, done=0, mode="bar", stream=stream):
        agent_waits.publish("http://pi-2:8731", "busy", 12.4, 47.6)
    assert "waiting for busy agent http://pi-2:8731: 12s (48s left)" in stream.getvalue()


def test_remote_profiler_of_a_search_publishes_its_waits():
    config = load_config(overrides={"profiler.kind": "remote", "profiler.urls": ["http://127.0.0.1:9"]})
    profiler = make_profiler(config.profiler)
    assert profiler.on_wait is agent_waits.publish

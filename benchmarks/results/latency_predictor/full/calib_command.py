"""The calibration step of the full default-space run (docs/latency_predictor.md), as it was run.

`taskset -c 1 .venv/bin/python benchmarks/results/latency_predictor/full/calib_command.py`, then
`benchmarks/latency_predictor.py --out /tmp/lp/full --budget-minutes 0 --archs 100 --rounds 3`.
"""

import json
import logging
import os
import time
from pathlib import Path

from edge_profiler.client import LocalProfiler
from nas.trial.predictor.calibrate import calibrate
from search_spaces import SearchSpace


def main() -> None:
    logging.basicConfig(level=logging.INFO)
    out = Path("/tmp/lp/full/calibration")
    params = {"threads": 1, "use_xnnpack": True, "runs": 20, "warmup_runs": 3}
    space = SearchSpace.default().with_input(resolutions=(96, 160), channels=3, num_classes=1000)
    loads = [os.getloadavg()]
    start = time.monotonic()
    predictor = calibrate(space, LocalProfiler(), params, out, budget_minutes=20, max_samples=2000)
    loads.append(os.getloadavg())
    record = {"calibration_s": time.monotonic() - start, "samples": predictor.samples, "loads": loads}
    Path("/tmp/lp/full/calibration_time.json").write_text(json.dumps(record))


if __name__ == "__main__":
    main()

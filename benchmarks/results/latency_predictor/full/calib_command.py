import json, os, time, logging
from pathlib import Path
logging.basicConfig(level=logging.INFO)
from edge_profiler.client import LocalProfiler
from nas.trial.predictor.calibrate import calibrate
from search_spaces import SearchSpace
out = Path("/tmp/lp/full/calibration")
params = {"threads": 1, "use_xnnpack": True, "runs": 20, "warmup_runs": 3}
space = SearchSpace.default().with_input(resolutions=(96, 160), channels=3, num_classes=1000)
loads = [os.getloadavg()]
t = time.monotonic()
p = calibrate(space, LocalProfiler(), params, out, budget_minutes=20, max_samples=2000)
loads.append(os.getloadavg())
Path("/tmp/lp/full/calibration_time.json").write_text(json.dumps({"calibration_s": time.monotonic() - t, "samples": p.samples, "loads": loads}))

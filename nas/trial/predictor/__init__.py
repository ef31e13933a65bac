"""Per-device latency predictor (issue 15): kernels, calibration models, the fitted predictor."""

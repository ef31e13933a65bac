PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: test lint demo install clean pi-check wheel check-lower-bounds

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade pip

$(STAMP): $(PY) pyproject.toml
	$(PY) -m pip install -e ".[test]"
	touch $(STAMP)

install: $(STAMP)

# Lint first (seconds), then the tests on two workers (pytest-xdist; tests/xdist_groups.py keeps the
# tests of one expensive session fixture, and those that start Ray, on one worker each);
# -rs prints why a test was skipped.
test: lint
	$(PY) -m pytest -q -rs -n 2 --dist loadgroup

lint: $(STAMP)
	$(PY) -m ruff check nas search_spaces evaluators edge_profiler tests benchmarks

demo: $(STAMP)
	$(VENV)/bin/nas demo

# The agent on emulated Raspberry Pi OS 64-bit (Debian 12 arm64 under qemu-user, root fs cached
# in .cache/pi-check): install, bench, serve + client, every-tensor check. Needs root; not in `test`.
pi-check: $(STAMP)
	$(PY) benchmarks/pi_check/pi_check.py

# The wheel to copy to a Raspberry Pi: dist/edge_nas-<version>-py3-none-any.whl; there:
# pip install "./edge_nas-<version>-py3-none-any.whl[agent]" (README.md, docs/raspberry_pi.md).
wheel: $(PY)
	$(PY) -m pip wheel --no-deps -w dist .

# The oldest versions pyproject.toml allows for Optuna and Ray (lower-bounds.txt), in a fresh venv,
# against the strategy suite. Not part of `test` (a second install of the test extra: minutes).
# RAY_ADDRESS=local: start Ray here even when another Ray instance runs on this machine.
LB_VENV := .cache/lower-bounds-venv
check-lower-bounds: $(PY)
	rm -rf $(LB_VENV)
	$(PYTHON) -m venv --without-pip $(LB_VENV)
	$(PY) -m pip --python $(LB_VENV)/bin/python install -q --constraint lower-bounds.txt -e ".[test]"
	$(PY) -m pip --python $(LB_VENV)/bin/python list --format=freeze | grep -iE '^(optuna|ray)=='
	RAY_ADDRESS=local $(LB_VENV)/bin/python -m pytest -q -p no:cacheprovider tests/nas/strategies/test_strategy_suite.py

clean:
	rm -rf $(VENV) runs build dist *.egg-info

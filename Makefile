PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: test lint demo install clean pi-check

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade pip

$(STAMP): $(PY) pyproject.toml
	$(PY) -m pip install -e ".[test]"
	touch $(STAMP)

install: $(STAMP)

# Lint first (seconds), then the tests; -rs prints why a test was skipped.
test: lint
	$(PY) -m pytest -q -rs

lint: $(STAMP)
	$(PY) -m ruff check nas search_spaces evaluators edge_profiler tests benchmarks

demo: $(STAMP)
	$(VENV)/bin/nas demo

# The agent on emulated Raspberry Pi OS 64-bit (Debian 12 arm64 under qemu-user, root fs cached
# in .cache/pi-check): install, bench, serve + client, every-tensor check. Needs root; not in `test`.
pi-check: $(STAMP)
	$(PY) benchmarks/pi_check/pi_check.py

clean:
	rm -rf $(VENV) runs build *.egg-info

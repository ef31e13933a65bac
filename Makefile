PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: test lint demo install clean

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

clean:
	rm -rf $(VENV) runs build *.egg-info

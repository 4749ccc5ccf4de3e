# Every target installs what it needs: a fresh machine with Python 3.11+ and the package index is enough.
SHELL := /bin/bash
PYTHON ?= python3
UV := $(or $(shell command -v uv 2>/dev/null),.tools/bin/uv)
VENV_PY := .venv/bin/python

.PHONY: install demo test test-floor lint check bench clean

.tools/bin/uv:
	$(PYTHON) -m venv .tools
	.tools/bin/python -m pip install --quiet --disable-pip-version-check uv

.venv/.synced: pyproject.toml uv.lock | $(UV)
	$(UV) sync --locked --quiet
	touch $@

install: .venv/.synced

## Fire events from a sample DAG into the local MoEngage sandbox, on Airflow's embedded SQLite.
demo: install
	$(VENV_PY) scripts/demo.py

## The whole test suite (installs Debian's chromium for the connection-form browser test and
## redis-server for the CeleryExecutor deployment tests, when root).
test: install
	bash scripts/install-browser.sh
	bash scripts/install-redis.sh
	$(VENV_PY) -m pytest -p no:cacheprovider

## The suite again on the oldest Airflow supported (3.1.8), in .venv-floor.
test-floor: install
	UV=$(UV) bash scripts/test-airflow-floor.sh

lint: install
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/mypy

check: lint test

bench: install
	$(VENV_PY) scripts/bench.py

clean:
	rm -rf .venv .venv-floor .tools .demo dist build

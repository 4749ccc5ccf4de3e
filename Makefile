# Every target installs what it needs: a fresh machine with Python 3.11+ and the package index is enough.
SHELL := /bin/bash
PYTHON ?= python3
UV := $(or $(shell command -v uv 2>/dev/null),.tools/bin/uv)
VENV_PY := .venv/bin/python

.PHONY: install demo test test-floor test-version test-matrix test-wheel lint check bench clean

.tools/bin/uv:
	$(PYTHON) -m venv .tools
	.tools/bin/python -m pip install --quiet --disable-pip-version-check uv

# Bytecode compiled at install: every Python process a test starts (Airflow components, CLI runs,
# task processes) loads it; with PYTHONDONTWRITEBYTECODE set, each would compile Airflow again
# (about 2.5 s of CPU per process).
.venv/.synced: pyproject.toml uv.lock | $(UV)
	$(UV) sync --locked --quiet --compile-bytecode
	touch $@

install: .venv/.synced

## Fire events from a sample DAG into the local MoEngage sandbox, on Airflow's embedded SQLite.
demo: install
	$(VENV_PY) scripts/demo.py

# pytest-xdist workers: most tests wait (on Airflow processes, task runs, rate-limit windows), so more
# workers than cores. Each worker has its own Airflow home; tests that share a deployment, a server
# or a document's run stay on one worker (xdist_group marks). TEST_WORKERS=0 runs in one process.
TEST_WORKERS ?= 3
PYTEST_PARALLEL = -n $(TEST_WORKERS) --dist loadgroup --no-loadscope-reorder

## The whole test suite (installs Debian's chromium for the connection-form browser test and
## redis-server for the CeleryExecutor deployment tests, when root).
test: install
	bash scripts/install-browser.sh
	bash scripts/install-redis.sh
	$(VENV_PY) -m pytest -p no:cacheprovider $(PYTEST_PARALLEL)

## The whole suite again on the oldest Airflow supported (2.11.2), in .venv-2.11.
test-floor: install
	UV=$(UV) TEST_WORKERS=$(TEST_WORKERS) bash scripts/test-airflow-version.sh 2.11

## The suite (or PYTEST_ARGS) on one release line: make test-version V=3.0 [PYTEST_ARGS="tests/operators -x"]
test-version: install
	UV=$(UV) TEST_WORKERS=$(TEST_WORKERS) bash scripts/test-airflow-version.sh $(V) $(PYTEST_ARGS)

# What the middle release lines (3.0, 3.1, 3.2) run in CI: the operator (reruns, rate limits), the
# hook, the sample DAGs, the provider's registration and the sandbox's pytest fixture.
MATRIX_TESTS := tests/operators tests/hooks tests/dags tests/test_provider.py tests/test_version_compat.py tests/testing/test_sandbox_plugin.py tests/testing/test_sandbox_fixture.py

## The middle release lines of the CI matrix (README: Versions); 3.3 is `make test`, 2.11 `make test-floor`.
test-matrix: install
	for v in 3.0 3.1 3.2; do UV=$(UV) TEST_WORKERS=$(TEST_WORKERS) bash scripts/test-airflow-version.sh $$v $(MATRIX_TESTS) || exit 1; done

## pip-install the built wheel into fresh Airflow 2.11.2 and 3.0.6; a sample DAG delivers one event.
test-wheel: install
	for v in 2.11 3.0; do UV=$(UV) bash scripts/test-wheel-install.sh $$v || exit 1; done

lint: install
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/mypy

check: lint test

bench: install
	$(VENV_PY) scripts/bench.py

clean:
	rm -rf .venv .venv-floor .venv-2.11 .venv-3.0 .venv-3.1 .venv-3.2 .venv-wheel-* .tools .demo dist build

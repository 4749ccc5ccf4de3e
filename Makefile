# Every target installs what it needs: a fresh machine with Python 3.11+ and the package index is enough.
SHELL := /bin/bash
PYTHON ?= python3
UV := $(or $(shell command -v uv 2>/dev/null),.tools/bin/uv)
VENV_PY := .venv/bin/python

.PHONY: install demo test test-floor test-version test-matrix test-wheel lint check bench mutate clean

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

## The whole test suite, its twenty slowest tests listed at the end (installs chromium for the browser test and
## redis-server for the CeleryExecutor deployment tests, when root).
test: install
	bash scripts/install-browser.sh
	bash scripts/install-redis.sh
	$(VENV_PY) -m pytest -p no:cacheprovider --durations=20 $(PYTEST_PARALLEL)

## The whole suite again on the oldest Airflow supported (2.11.2), in .venv-2.11.
test-floor: install
	UV=$(UV) TEST_WORKERS=$(TEST_WORKERS) bash scripts/test-airflow-version.sh 2.11

## The suite (or PYTEST_ARGS) on one release line: make test-version V=3.0 [PYTEST_ARGS="tests/operators -x"]
test-version: install
	UV=$(UV) TEST_WORKERS=$(TEST_WORKERS) bash scripts/test-airflow-version.sh $(V) $(PYTEST_ARGS)

# What the middle release lines (3.0, 3.1, 3.2) run in CI: the operator (reruns, rate limits), the
# hook, the sample DAGs, the provider's registration and the sandbox's pytest fixture.
MATRIX_TESTS := tests/operators tests/hooks tests/dags tests/test_provider.py tests/testing/test_sandbox_plugin.py tests/testing/test_sandbox_fixture.py

## The middle release lines of the CI matrix (README: Versions); 3.3 is `make test`, 2.11 `make test-floor`.
test-matrix: install
	for v in 3.0 3.1 3.2; do UV=$(UV) TEST_WORKERS=$(TEST_WORKERS) bash scripts/test-airflow-version.sh $$v $(MATRIX_TESTS) || exit 1; done

## docs/install.md's commands as written: the built wheel into Airflow 2.11.2 holding HTTP provider 6.0.1,
## 3.0.6 and 3.3.2 (on the first two a sample DAG delivers), and from a checkout into fresh venvs.
## (2.11 alone ends where 2.11-http-6.0.1 does: make test-wheel WHEEL_SCENARIOS=2.11)
WHEEL_SCENARIOS ?= 2.11-http-6.0.1 3.0 3.3 checkout
test-wheel: install
	for s in $(WHEEL_SCENARIOS); do UV=$(UV) bash scripts/test-wheel-install.sh $$s || exit 1; done

lint: install
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/mypy

check: lint test

bench: install
	$(VENV_PY) scripts/bench.py

## Mutation testing of the decision modules against the fast tests (docs/development.md), ~20 min on
## 2 cores; not part of `make test`. One module: make mutate ONLY=api.payload (JOBS=n workers, default 2).
mutate: install
	$(UV) sync --locked --quiet --group mutation
	rm -rf mutants && mkdir mutants
	timeout 1800 .venv/bin/mutmut run --max-children $(or $(JOBS),2) $(if $(ONLY),"moengage_provider.$(ONLY).*") \
		> mutants/run.log 2>&1 || { tail -n 40 mutants/run.log; exit 1; }
	$(VENV_PY) scripts/mutation_report.py --min-score 90 $(if $(ONLY),--only $(ONLY))

clean:
	rm -rf mutants .venv .venv-floor .venv-2.11 .venv-3.0 .venv-3.1 .venv-3.2 .venv-wheel-* .tools .demo dist build .venv-urllib3-1.26-* .venv-urllib3-1.26.lock

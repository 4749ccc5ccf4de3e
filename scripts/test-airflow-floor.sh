#!/usr/bin/env bash
# The test suite on the oldest Airflow this provider supports (the "floor"), next to the main suite on
# the Airflow locked in uv.lock. Run from the repo root, as CI does: bash scripts/test-airflow-floor.sh
#
# - .venv-floor holds Airflow $AIRFLOW_VERSION with the providers of its time, pinned below, and this
#   checkout installed editable with the dev dependency group (pytest, pytest-timeout, ...).
# - Airflow's own constraints file is not on PyPI, so Airflow's dependencies are resolved as they were
#   when that release came out (--exclude-newer): later pydantic, SQLAlchemy or FastAPI releases break
#   older Airflow versions. The dev tools are resolved afterwards, without moving anything Airflow got.
# - Re-running is cheap: the venv is rebuilt only when this script or pyproject.toml changed.
# - Extra arguments go to pytest (e.g. tests/hooks -x). Exits with pytest's status.
set -euo pipefail
script="$(cd "$(dirname "$0")" && pwd)/$(basename "$0")"
cd "$(dirname "$script")/.."

UV=${UV:-$(command -v uv || echo .tools/bin/uv)}
VENV=.venv-floor
PYTHON_VERSION=${FLOOR_PYTHON:-3.11}

AIRFLOW_VERSION=3.1.8
# Airflow 3.1.8 came out in mid-March 2026: resolve its dependencies as of then.
EXCLUDE_NEWER=2026-03-20T00:00:00Z
FLOOR_PINS=(
    "apache-airflow==${AIRFLOW_VERSION}"
    "apache-airflow-core==${AIRFLOW_VERSION}"
    "apache-airflow-task-sdk==1.1.8"
    "apache-airflow-providers-http==6.0.0"
    "apache-airflow-providers-standard==1.12.1"
    "apache-airflow-providers-common-compat==1.14.1"
    "apache-airflow-providers-common-io==1.7.1"
    "apache-airflow-providers-common-sql==1.33.0"
    "apache-airflow-providers-smtp==2.4.3"
    "apache-airflow-providers-sqlite==4.3.0"
)

# pyproject.toml's [tool.uv] pins the main suite's Airflow; none of that applies here.
uv_pip() { "$UV" pip "$1" --no-config --quiet --python "$VENV/bin/python" "${@:2}"; }

stamp="$VENV/.floor-synced"
wanted="$(cat "$script" pyproject.toml | sha256sum | cut -d' ' -f1)"
if [ ! -x "$VENV/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$wanted" ]; then
    echo "test-airflow-floor: building $VENV (Airflow ${AIRFLOW_VERSION}, Python ${PYTHON_VERSION})" >&2
    rm -rf "$VENV"
    "$UV" venv --no-config --quiet --python "$PYTHON_VERSION" "$VENV"
    # 1. Airflow and its providers, with the dependencies of their time.
    uv_pip install --exclude-newer "$EXCLUDE_NEWER" "${FLOOR_PINS[@]}"
    # 2. This checkout and the dev group, constrained to what step 1 installed; except `packaging`,
    #    which twine needs recent enough to read the metadata today's build backends write.
    constraints="$(mktemp)"
    trap 'rm -f "$constraints"' EXIT
    "$UV" pip freeze --no-config --quiet --python "$VENV/bin/python" \
        | grep -E '^[A-Za-z0-9._-]+==' | grep -viE '^packaging==' >"$constraints"
    uv_pip install --constraints "$constraints" --group pyproject.toml:dev --editable .
    echo "$wanted" >"$stamp"
fi

# The browser tests need Debian's chromium, as in `make test` (a no-op when it is there).
if [ "$(id -u)" -eq 0 ] || command -v sudo >/dev/null 2>&1; then
    bash scripts/install-browser.sh
fi

installed="$("$VENV/bin/python" -c 'from importlib.metadata import version; print(version("apache-airflow-core"))')"
if [ "$installed" != "$AIRFLOW_VERSION" ]; then
    echo "test-airflow-floor: $VENV has Airflow $installed, expected $AIRFLOW_VERSION" >&2
    exit 1
fi
echo "test-airflow-floor: running the suite on Airflow $installed" >&2
exec "$VENV/bin/python" -m pytest -p no:cacheprovider "$@"

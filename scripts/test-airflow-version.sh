#!/usr/bin/env bash
# The test suite on one Airflow release line of the CI matrix, in its own venv next to the main .venv.
#
#   bash scripts/test-airflow-version.sh 2.11 [pytest args]     # e.g. tests/operators -x
#   bash scripts/test-airflow-version.sh 3.0 --build-only        # build .venv-3.0, run nothing
#   bash scripts/test-airflow-version.sh 3.3 [pytest args]       # the main .venv (uv.lock), as `make test`
#
# pytest runs on TEST_WORKERS pytest-xdist workers (default 3, as `make test`; 0: one process).
#
# How each venv is made reproducible (no lock or constraints file per version):
# - Airflow's official constraints files live on raw.githubusercontent.com, which CI and this machine
#   cannot reach (the network is the package index only). So Airflow and every one of its dependencies
#   are resolved as they were the day after that release came out (`uv --exclude-newer DATE`): that is
#   what the constraints file of the release pinned, give or take a same-day patch, and it is the only
#   thing that keeps later pydantic, SQLAlchemy or FastAPI releases from breaking older Airflow.
# - The providers come from that day too (the HTTP and standard providers of the day), except
#   common-compat, which this provider needs at 1.22+ (it declares apache-airflow>=2.11.0 and needs
#   nothing newer than Airflow's own dependencies): pinned as in uv.lock and exempted from the date
#   with --exclude-newer-package. That is what `pip install airflow-provider-moengage` does to an old
#   Airflow: it upgrades common-compat, never Airflow.
# - Then this checkout (editable) and the dev dependency group, constrained to everything step 1
#   installed, so nothing Airflow got moves. Only `packaging` may move (twine needs one that reads the
#   metadata today's build backends write).
# - The venv is rebuilt only when this script or pyproject.toml changed. Exits with pytest's status.
set -euo pipefail
script="$(cd "$(dirname "$0")" && pwd)/$(basename "$0")"
cd "$(dirname "$script")/.."

usage() { echo "usage: $0 {2.11|3.0|3.1|3.2|3.3} [--build-only] [pytest args...]" >&2; exit 2; }
[ $# -ge 1 ] || usage
LINE=$1
shift
BUILD_ONLY=0
if [ "${1:-}" = "--build-only" ]; then BUILD_ONLY=1; shift; fi

UV=${UV:-$(command -v uv || echo .tools/bin/uv)}
PYTHON_VERSION=${MATRIX_PYTHON:-3.11}

# One row per release line: the latest patch, and the day after it came out (the resolution date).
case "$LINE" in
    2.11) AIRFLOW_VERSION=2.11.2 EXCLUDE_NEWER=2026-03-15T00:00:00Z ;;
    3.0) AIRFLOW_VERSION=3.0.6 EXCLUDE_NEWER=2025-08-30T00:00:00Z ;;
    3.1) AIRFLOW_VERSION=3.1.8 EXCLUDE_NEWER=2026-03-12T00:00:00Z ;;
    3.2) AIRFLOW_VERSION=3.2.2 EXCLUDE_NEWER=2026-05-30T00:00:00Z ;;
    3.3) AIRFLOW_VERSION=3.3.2 EXCLUDE_NEWER= ;;
    *) usage ;;
esac
# Newer than the Airflow release: common-compat as locked in uv.lock. The rest resolves at the date.
PROVIDER_PINS=("apache-airflow-providers-common-compat==1.23.0")
PROVIDERS_DATE=2026-10-25T00:00:00Z
# Installed with Airflow (2.11 does not preinstall the standard provider; 3.x does). The HTTP provider
# as pyproject.toml requires it: the newest of the day may be a release the provider excludes (3.2's
# day resolves 6.0.2, which imports pydantic without declaring it).
http_requirement="$(grep -o '"apache-airflow-providers-http[^"]*"' pyproject.toml | head -1 | tr -d '"')"
PROVIDERS_OF_THE_DAY=(apache-airflow-providers-standard "$http_requirement")

if [ "$LINE" = "3.3" ]; then
    # The newest line is the one uv.lock pins: the main venv, exactly as `make test` builds it.
    VENV=.venv
    "$UV" sync --locked --quiet --compile-bytecode
else
    VENV=.venv-$LINE
    # Bytecode compiled at install, as `make install` does for .venv (see the Makefile).
    uv_pip() { "$UV" pip "$1" --no-config --quiet --compile-bytecode --python "$VENV/bin/python" "${@:2}"; }
    stamp="$VENV/.matrix-synced"
    wanted="$(cat "$script" pyproject.toml | sha256sum | cut -d' ' -f1)"
    if [ ! -x "$VENV/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$wanted" ]; then
        echo "test-airflow-version: building $VENV (Airflow $AIRFLOW_VERSION as of $EXCLUDE_NEWER, Python $PYTHON_VERSION)" >&2
        rm -rf "$VENV"
        "$UV" venv --no-config --quiet --python "$PYTHON_VERSION" "$VENV"
        # 1. Airflow with the dependencies of its day; our providers as locked.
        exempt=()
        for pin in "${PROVIDER_PINS[@]}"; do exempt+=(--exclude-newer-package "${pin%%==*}=$PROVIDERS_DATE"); done
        airflow_pins=("apache-airflow==$AIRFLOW_VERSION")
        # Airflow 3 is a meta package over -core and -task-sdk: pin -core too so nothing can move it.
        [ "${LINE%%.*}" = 3 ] && airflow_pins+=("apache-airflow-core==$AIRFLOW_VERSION")
        uv_pip install --exclude-newer "$EXCLUDE_NEWER" "${exempt[@]}" "${airflow_pins[@]}" "${PROVIDER_PINS[@]}" "${PROVIDERS_OF_THE_DAY[@]}"
        # 2. This checkout and the dev group, constrained to what step 1 installed.
        constraints="$(mktemp)"
        trap 'rm -f "$constraints"' EXIT
        "$UV" pip freeze --no-config --quiet --python "$VENV/bin/python" \
            | grep -E '^[A-Za-z0-9._-]+==' | grep -viE '^packaging==' >"$constraints"
        uv_pip install --constraints "$constraints" --group pyproject.toml:dev --editable . "packaging>=25"
        echo "$wanted" >"$stamp"
    fi
fi

installed="$("$VENV/bin/python" -c 'from importlib.metadata import version; print(version("apache-airflow"))')"
if [ "$installed" != "$AIRFLOW_VERSION" ]; then
    echo "test-airflow-version: $VENV has Airflow $installed, expected $AIRFLOW_VERSION" >&2
    exit 1
fi
[ "$BUILD_ONLY" = 1 ] && { echo "test-airflow-version: $VENV ready (Airflow $installed)" >&2; exit 0; }

# The browser tests need Debian's chromium, as in `make test` (a no-op when it is there).
if [ "$(id -u)" -eq 0 ] || command -v sudo >/dev/null 2>&1; then
    bash scripts/install-browser.sh
fi
echo "test-airflow-version: running pytest on Airflow $installed ($VENV)" >&2
exec "$VENV/bin/python" -m pytest -p no:cacheprovider -n "${TEST_WORKERS:-3}" --dist loadgroup --no-loadscope-reorder "$@"

#!/usr/bin/env bash
# The install paths of docs/install.md, run as written (read from that file by
# tests/docs/install_commands.py, so the page and this test cannot drift). Run from the repo root:
#
#   bash scripts/test-wheel-install.sh 2.11|2.11-http-6.0.1|3.0|3.3|checkout
#
# An Airflow scenario ("into an existing Airflow"):
# 1. A fresh venv (.venv-wheel-<scenario>) with Airflow alone, resolved as of the day after its release
#    (uv --exclude-newer; the sample's SQLite provider too). 2.11-http-6.0.1 adds HTTP provider 6.0.1,
#    what 2.11.2 resolved a few weeks later: it imports pydantic, which that Airflow lacks (checked).
# 2. docs/install.md's "Build a wheel" (uv build, in the checkout), then "Into an existing Airflow" in
#    that venv, with one substitution: the constraints URL points at tests/data/airflow-constraints/
#    (stand-ins: this machine cannot reach raw.githubusercontent.com; AIRFLOW_CONSTRAINTS_BASE=<url>
#    uses the real files). Fails if apache-airflow, -core or -task-sdk moved; prints what else did.
# 3. Airflow's providers manager (what `airflow providers list` prints) lists the provider; the hook imports.
# 4. Where DELIVERS (2.11-http-6.0.1, 3.0): the sample DAG moengage_load_then_announce, parsed into
#    the DB (`airflow dags reserialize`, as the DAG processor would), runs (`airflow dags test`)
#    against the sandbox started from the installed wheel, which must record exactly one trigger.
# "checkout": each block of "From a checkout" (pip install . / uv pip install .) in a fresh venv, then 3.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO="$PWD"

SCENARIO=${1:?usage: $0 2.11|2.11-http-6.0.1|3.0|3.3|checkout}
UV=${UV:-$(command -v uv || echo .tools/bin/uv)}
UV="$(cd "$(dirname "$UV")" && pwd)/$(basename "$UV")"
GITHUB_CONSTRAINTS=https://raw.githubusercontent.com/apache/airflow
CONSTRAINTS_BASE=${AIRFLOW_CONSTRAINTS_BASE:-$REPO/tests/data/airflow-constraints}
AIRFLOW_VERSION= EXCLUDE_NEWER= DELIVERS=0 EXTRA_PINS=()
case "$SCENARIO" in
    2.11) AIRFLOW_VERSION=2.11.2 EXCLUDE_NEWER=2026-03-15T00:00:00Z ;;
    2.11-http-6.0.1)
        AIRFLOW_VERSION=2.11.2 EXCLUDE_NEWER=2026-03-15T00:00:00Z DELIVERS=1
        EXTRA_PINS=(apache-airflow-providers-http==6.0.1 --exclude-newer-package apache-airflow-providers-http=2100-01-01T00:00:00Z) ;;
    3.0) AIRFLOW_VERSION=3.0.6 EXCLUDE_NEWER=2025-08-30T00:00:00Z DELIVERS=1 ;;
    3.3) AIRFLOW_VERSION=3.3.2 EXCLUDE_NEWER=2026-09-18T00:00:00Z ;;
    checkout) ;;
    *) echo "unknown scenario $SCENARIO" >&2; exit 2 ;;
esac
VENV=$REPO/.venv-wheel-$SCENARIO
say() { echo "test-wheel-install[$SCENARIO] ${SECONDS}s: $*" >&2; }

work="$(mktemp -d)"
sandbox_pid=
cleanup() {
    [ -n "$sandbox_pid" ] && kill "$sandbox_pid" 2>/dev/null && wait "$sandbox_pid" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT

export AIRFLOW_HOME="$work/home"
export AIRFLOW__CORE__DAGS_FOLDER="$work/home/dags"
export AIRFLOW__CORE__LOAD_EXAMPLES=False
export AIRFLOW__CORE__UNIT_TEST_MODE=False
export NO_PROXY=127.0.0.1,localhost no_proxy=127.0.0.1,localhost
mkdir -p "$AIRFLOW__CORE__DAGS_FOLDER"

# The blocks of one section of docs/install.md, into the array "blocks".
doc_blocks() {
    "$REPO/.venv/bin/python" -m tests.docs.install_commands "$1" >"$work/blocks" || exit 1
    mapfile -d '' blocks <"$work/blocks"
}
# Run one block as a reader would: the venv active, in the checkout, `uv` being the one make installed.
run_block() {
    local block=$1 log=$2
    (
        # shellcheck disable=SC1091
        source "$VENV/bin/activate"
        uv() { "$UV" "$@"; }
        eval "$block"
    ) >"$log" 2>&1 || { say "this block of docs/install.md failed:"; echo "$block" >&2; tail -40 "$log" >&2; exit 1; }
}
fresh_venv() { rm -rf "$VENV"; "$UV" venv --no-config --quiet --seed --python 3.11 "$VENV"; }
airflow_cli() { "$VENV/bin/python" -m airflow "$@"; }
freeze() { "$VENV/bin/python" -m pip freeze --all 2>/dev/null | grep -iE "^$1" | sort || true; }

# "name old -> new" for each distribution whose pip-freeze line changed between $1 and $2.
moved() {
    "$REPO/.venv/bin/python" - "$1" "$2" <<'PY'
import sys
before, after = ({n: v for n, _, v in (x.partition("==") for x in text.split())} for text in sys.argv[1:])
names = sorted(n for n in before.keys() | after.keys() if before.get(n) != after.get(n))
print(", ".join(f"{n.removeprefix('apache-airflow-providers-')} {before.get(n, '(none)')} -> {after.get(n, '(none)')}" for n in names) or "none")
PY
}

# What `airflow providers list` lists (Airflow's providers manager), and the hook's import from the
# venv, in one process. Outside the checkout, as everything after the install: Python puts the current
# folder first on sys.path, and the checkout's moengage_provider would stand in for the installed one.
check_listed() {
    (cd "$work" && "$VENV/bin/python" - >"$work/listed.log" 2>&1) <<'PY' || { say "the provider is not usable:"; tail -8 "$work/listed.log" >&2; exit 1; }
import sys

from airflow.providers_manager import ProvidersManager

import moengage_provider.hooks.moengage  # what a DAG imports: fails on a broken dependency

assert moengage_provider.hooks.moengage.__file__.startswith(sys.prefix), moengage_provider.hooks.moengage.__file__
assert "airflow-provider-moengage" in ProvidersManager().providers, "Airflow does not list the provider"
PY
    say "Airflow's providers manager lists airflow-provider-moengage; the hook imports from $(basename "$VENV")"
}

if [ "$SCENARIO" = checkout ]; then
    doc_blocks "From a checkout"
    for block in "${blocks[@]}"; do
        fresh_venv
        say "in a fresh venv: $block"
        run_block "$block" "$work/checkout.log"
        check_listed
    done
    say "OK: every block of 'From a checkout' installs a provider Airflow lists"
    exit 0
fi

say "fresh $(basename "$VENV"): Airflow $AIRFLOW_VERSION as of $EXCLUDE_NEWER ${EXTRA_PINS[0]:-}"
fresh_venv
# The sample's catalog is SQLite: its provider comes with Airflow 2, not with Airflow 3.
pins=("apache-airflow==$AIRFLOW_VERSION" apache-airflow-providers-sqlite "${EXTRA_PINS[@]}")
[ "${AIRFLOW_VERSION%%.*}" = 3 ] && pins+=("apache-airflow-core==$AIRFLOW_VERSION")
"$UV" pip install --no-config --quiet --python "$VENV/bin/python" --exclude-newer "$EXCLUDE_NEWER" "${pins[@]}"
if [ "${#EXTRA_PINS[@]}" -gt 0 ]; then
    # The scenario is the real one: this HTTP provider's hook does not import on this Airflow.
    if "$VENV/bin/python" -c "import airflow.providers.http.hooks.http" 2>"$work/http.err"; then
        say "expected HTTP provider 6.0.1 to fail to import here (no pydantic); it imports"; exit 1
    fi
    say "as expected, before the install: $(tail -1 "$work/http.err")"
fi
airflow_before="$(freeze 'apache-airflow(-core|-task-sdk)?==')"
providers_before="$(freeze 'apache-airflow-providers-')"

doc_blocks "Build a wheel"
say "docs/install.md, Build a wheel: $(echo "${blocks[*]}" | tr -s '\n' ' ')"
for block in "${blocks[@]}"; do run_block "$block" "$work/build.log"; done

doc_blocks "Into an existing Airflow"
[ "${#blocks[@]}" = 1 ] || { say "expected one block in 'Into an existing Airflow', found ${#blocks[@]}"; exit 1; }
install="${blocks[0]}"
[[ $install == *"$GITHUB_CONSTRAINTS/"* ]] || { say "the install command no longer uses $GITHUB_CONSTRAINTS"; exit 1; }
install="${install//"$GITHUB_CONSTRAINTS"/"$CONSTRAINTS_BASE"}"
say "docs/install.md, Into an existing Airflow (constraints from $CONSTRAINTS_BASE)"
run_block "$install" "$work/install.log"

airflow_after="$(freeze 'apache-airflow(-core|-task-sdk)?==')"
if [ "$airflow_before" != "$airflow_after" ]; then
    say "installing the wheel changed Airflow:"; diff <(echo "$airflow_before") <(echo "$airflow_after") >&2 || true
    exit 1
fi
say "Airflow unchanged: $(echo "$airflow_after" | tr '\n' ' ')"
say "providers it moved: $(moved "$providers_before" "$(freeze 'apache-airflow-providers-')")"

check_listed
if [ "$DELIVERS" != 1 ]; then
    say "OK: the install command of docs/install.md resolves and keeps Airflow $AIRFLOW_VERSION"
    exit 0
fi
cd "$work"  # see check_listed
airflow_cli db migrate >"$work/migrate.log" 2>&1 || { tail -40 "$work/migrate.log" >&2; exit 1; }

cp -r "$REPO/dags/moengage_load_then_announce.py" "$REPO/dags/data" "$AIRFLOW__CORE__DAGS_FOLDER/"
# The sandbox from the installed wheel, on a free port; wait (bounded) for the line that gives its URL.
export MOENGAGE_SANDBOX_API_KEY="wheel-test-$RANDOM$RANDOM"
record="$work/triggers.jsonl"
"$VENV/bin/python" -m moengage_provider.testing.sandbox --port 0 --workspace-id WHEEL_WS \
    --record-file "$record" >"$work/sandbox.out" 2>"$work/sandbox.err" &
sandbox_pid=$!
url=
for _ in $(seq 1 300); do
    url="$(sed -n 's/^MoEngage sandbox listening on //p' "$work/sandbox.out")"
    [ -n "$url" ] && break
    kill -0 "$sandbox_pid" 2>/dev/null || { cat "$work/sandbox.err" >&2; exit 1; }
    sleep 0.1
done
[ -n "$url" ] || { say "the sandbox did not start within 30 s"; exit 1; }
port="${url##*:}"

export AIRFLOW_CONN_MOENGAGE_DEFAULT="{\"conn_type\": \"moengage\", \"host\": \"127.0.0.1\", \"port\": $port, \"schema\": \"http\", \"login\": \"WHEEL_WS\", \"password\": \"$MOENGAGE_SANDBOX_API_KEY\"}"
export AIRFLOW_CONN_CATALOG_DB="{\"conn_type\": \"sqlite\", \"host\": \"$work/catalog.db\"}"
# A deployment's DAG processor writes the DAG to the DB before anything runs it, which activates the
# assets in its tasks' inlets. Airflow 3.0's `dags test` skips that (3.1+ does it; apache/airflow
# #51644), so the sample's inlet would be "inactive" there: reserialize first, as the processor would.
airflow_cli dags reserialize >"$work/reserialize.log" 2>&1 || { tail -40 "$work/reserialize.log" >&2; exit 1; }
say "airflow dags test moengage_load_then_announce (sandbox at $url)"
airflow_cli dags test moengage_load_then_announce >"$work/dagtest.log" 2>&1 || { tail -60 "$work/dagtest.log" >&2; exit 1; }
count=$( [ -f "$record" ] && wc -l <"$record" || echo 0 )
if [ "$count" -ne 1 ]; then
    say "expected exactly one trigger in the sandbox, got $count"; tail -60 "$work/dagtest.log" >&2; exit 1
fi
say "OK: the sample DAG delivered exactly one event ($(head -c 120 "$record")...)"

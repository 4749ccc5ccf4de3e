#!/usr/bin/env bash
# What a user of an older Airflow does: `pip install` the built wheel into a fresh Airflow, and the
# provider is there and delivers. Run from the repo root:  bash scripts/test-wheel-install.sh 2.11|3.0
#
# 1. A fresh venv (.venv-wheel-X.Y, rebuilt every run) with Airflow alone, resolved as of the day after
#    its release: the stand-in for its constraints file, which this machine cannot download
#    (scripts/test-airflow-version.sh says why).
# 2. `pip install dist/<wheel> apache-airflow==X.Y.Z`: pip may add or upgrade what the wheel needs
#    (common-compat), never Airflow; the script fails if apache-airflow, -core or -task-sdk moved.
# 3. `airflow providers list` lists airflow-provider-moengage.
# 4. The sample DAG moengage_load_then_announce, parsed into the DB (`airflow dags reserialize`, as
#    the DAG processor would), runs (`airflow dags test`) against the sandbox started
#    from the installed wheel, which must record exactly one trigger.
set -euo pipefail
cd "$(dirname "$0")/.."

LINE=${1:?usage: $0 2.11|3.0|3.1|3.2}
UV=${UV:-$(command -v uv || echo .tools/bin/uv)}
case "$LINE" in
    2.11) AIRFLOW_VERSION=2.11.2 EXCLUDE_NEWER=2026-03-15T00:00:00Z ;;
    3.0) AIRFLOW_VERSION=3.0.6 EXCLUDE_NEWER=2025-08-30T00:00:00Z ;;
    3.1) AIRFLOW_VERSION=3.1.8 EXCLUDE_NEWER=2026-03-12T00:00:00Z ;;
    3.2) AIRFLOW_VERSION=3.2.2 EXCLUDE_NEWER=2026-05-30T00:00:00Z ;;
    *) echo "unknown release line $LINE" >&2; exit 2 ;;
esac
VENV=.venv-wheel-$LINE
say() { echo "test-wheel-install[$AIRFLOW_VERSION]: $*" >&2; }

work="$(mktemp -d)"
sandbox_pid=
cleanup() {
    [ -n "$sandbox_pid" ] && kill "$sandbox_pid" 2>/dev/null && wait "$sandbox_pid" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT

say "building the wheel"
"$UV" build --no-config --quiet --wheel --out-dir "$work/dist" .
wheel="$(ls "$work"/dist/*.whl)"

say "fresh $VENV: Airflow $AIRFLOW_VERSION as of $EXCLUDE_NEWER"
rm -rf "$VENV"
"$UV" venv --no-config --quiet --seed --python 3.11 "$VENV"
# The sample's catalog is SQLite: its provider comes with Airflow 2, not with Airflow 3.0.
pins=("apache-airflow==$AIRFLOW_VERSION" apache-airflow-providers-sqlite)
[ "${LINE%%.*}" = 3 ] && pins+=("apache-airflow-core==$AIRFLOW_VERSION")
"$UV" pip install --no-config --quiet --compile-bytecode --python "$VENV/bin/python" --exclude-newer "$EXCLUDE_NEWER" "${pins[@]}"
freeze() { "$VENV/bin/python" -m pip freeze --all 2>/dev/null | grep -iE '^apache-airflow(-core|-task-sdk)?==' | sort; }
before="$(freeze)"

say "pip install $(basename "$wheel")"
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "$wheel" "apache-airflow==$AIRFLOW_VERSION"
after="$(freeze)"
if [ "$before" != "$after" ]; then
    say "installing the wheel changed Airflow:"; diff <(echo "$before") <(echo "$after") >&2 || true
    exit 1
fi
say "Airflow unchanged: $(echo "$after" | tr '\n' ' ')"

export AIRFLOW_HOME="$work/home"
export AIRFLOW__CORE__DAGS_FOLDER="$work/home/dags"
export AIRFLOW__CORE__LOAD_EXAMPLES=False
export AIRFLOW__CORE__UNIT_TEST_MODE=False
export NO_PROXY=127.0.0.1,localhost no_proxy=127.0.0.1,localhost
mkdir -p "$AIRFLOW__CORE__DAGS_FOLDER"
cp -r dags/moengage_load_then_announce.py dags/data "$AIRFLOW__CORE__DAGS_FOLDER/"
airflow_cli() { "$VENV/bin/python" -m airflow "$@"; }
airflow_cli db migrate >"$work/migrate.log" 2>&1 || { tail -40 "$work/migrate.log" >&2; exit 1; }

if ! airflow_cli providers list 2>/dev/null | grep -q "airflow-provider-moengage"; then
    say "airflow providers list does not show airflow-provider-moengage"; exit 1
fi
say "airflow providers list shows airflow-provider-moengage"

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

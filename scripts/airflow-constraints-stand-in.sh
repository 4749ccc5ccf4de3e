#!/usr/bin/env bash
# Writes the stand-in for Airflow's constraints-no-providers file of one release that `make test-wheel`
# uses in place of the URL docs/install.md gives (raw.githubusercontent.com, which this machine and CI
# cannot reach):
#
#   bash scripts/airflow-constraints-stand-in.sh 2.11.2 2026-03-15T00:00:00Z
#     -> tests/data/airflow-constraints/constraints-2.11.2/constraints-no-providers-3.11.txt
#
# What Airflow publishes under that name is the bare apache-airflow of the release with its dependencies
# pinned as resolved when it was released, and no provider. The stand-in is made the same way from the
# package index: apache-airflow==VERSION resolved for Python 3.11 on Linux as of DATE (the day after the
# release: `uv pip compile --exclude-newer`), then every apache-airflow* line dropped (Airflow's own
# distributions are what the install command pins; the providers are left free). Where GitHub is
# reachable, compare it with the real file (the URL is in its first line).
set -euo pipefail
cd "$(dirname "$0")/.."
AIRFLOW_VERSION=${1:?usage: $0 AIRFLOW_VERSION RESOLUTION_DATE}
DATE=${2:?usage: $0 AIRFLOW_VERSION RESOLUTION_DATE}
PYTHON_VERSION=3.11
UV=${UV:-$(command -v uv || echo .tools/bin/uv)}
url="https://raw.githubusercontent.com/apache/airflow/constraints-${AIRFLOW_VERSION}/constraints-no-providers-${PYTHON_VERSION}.txt"
out="tests/data/airflow-constraints/constraints-${AIRFLOW_VERSION}/constraints-no-providers-${PYTHON_VERSION}.txt"
mkdir -p "$(dirname "$out")"
resolved="$(echo "apache-airflow==${AIRFLOW_VERSION}" | "$UV" pip compile --no-config --quiet \
    --python-version "$PYTHON_VERSION" --python-platform x86_64-unknown-linux-gnu \
    --exclude-newer "$DATE" --no-header --no-annotate -)"
{
    echo "# Stand-in for ${url}"
    echo "# (not downloaded: made by scripts/airflow-constraints-stand-in.sh ${AIRFLOW_VERSION} ${DATE}):"
    echo "# apache-airflow==${AIRFLOW_VERSION} resolved for Python ${PYTHON_VERSION} as of ${DATE}, without the"
    echo "# apache-airflow* lines (Airflow itself and its providers)."
    grep -v '^apache-airflow' <<<"$resolved"
} >"$out"
echo "$out: $(grep -vc '^#' "$out") pins"

#!/usr/bin/env bash
# The suite on the oldest Airflow this provider supports: kept for `bash scripts/test-airflow-floor.sh`
# users; the matrix script does the work (README: Versions). Extra arguments go to pytest.
exec bash "$(dirname "$0")/test-airflow-version.sh" 2.11 "$@"

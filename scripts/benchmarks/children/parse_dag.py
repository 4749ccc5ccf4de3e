"""A fresh interpreter parses one DAG file the way Airflow's DAG processor does (SDK already loaded).

``python parse_dag.py DAG_FILE OUT.json``
"""

import importlib.util
import json
import sys
import time

import airflow.sdk  # noqa: F401  (the baseline)
from airflow.sdk import DAG

path, out = sys.argv[1], sys.argv[2]
before = set(sys.modules)
result = {}
started = time.perf_counter()
try:
    spec = importlib.util.spec_from_file_location("bench_dag_file", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    result["seconds"] = time.perf_counter() - started
    dags = [v for v in vars(module).values() if isinstance(v, DAG)]
    result["dag_ids"] = sorted(d.dag_id for d in dags)
    result["tasks"] = sum(len(d.tasks) for d in dags)
except BaseException as err:
    result["error"] = f"{type(err).__name__}: {err}"[:300]
result["new_modules"] = len(set(sys.modules) - before)
with open(out, "w") as fh:
    json.dump(result, fh)

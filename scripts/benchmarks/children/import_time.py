"""A fresh interpreter: the baseline a DAG processor has loaded, then the target import, timed alone.

``python import_time.py MODULE ATTRIBUTE OUT.json``
"""

import importlib
import json
import sys
import time

from airflow.sdk import BaseHook, BaseOperator, Context  # noqa: F401  (the baseline)

module_name, attr, out = sys.argv[1], sys.argv[2], sys.argv[3]
before = set(sys.modules)
started = time.perf_counter()
getattr(importlib.import_module(module_name), attr)
seconds = time.perf_counter() - started
new = sorted(set(sys.modules) - before)
with open(out, "w") as fh:
    json.dump({"seconds": seconds, "new_modules": new}, fh)

"""Import, once and untimed, what the children import, so that their ``.pyc`` files exist; then
each DAG file given (the DAG processor keeps their .pyc as well; a broken one is reported later).

``python warm.py DAG_FILE...``
"""

import contextlib
import importlib.util
import sys

from airflow.sdk import DAG, BaseHook, BaseOperator, Context  # noqa: F401

import moengage_provider.hooks.moengage
import moengage_provider.operators.business_event
import moengage_provider.testing.sandbox  # noqa: F401

for path in sys.argv[1:]:
    spec = importlib.util.spec_from_file_location("bench_warm_" + str(abs(hash(path))), path)
    with contextlib.suppress(BaseException):
        spec.loader.exec_module(importlib.util.module_from_spec(spec))

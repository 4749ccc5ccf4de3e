"""``python -X importtime importtime.py MODULE``: the baseline, a marker on stderr, then MODULE."""

import importlib
import sys

from airflow.sdk import BaseHook, BaseOperator, Context  # noqa: F401  (the baseline)

MARK = "----- bench: baseline imported -----"
sys.stderr.write(MARK + "\n")
importlib.import_module(sys.argv[1])

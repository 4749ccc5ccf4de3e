"""
Benchmarks: what the MoEngage provider costs Airflow, measured side by side, written to BENCHMARKS.md.

    .venv/bin/python scripts/bench.py             # or: make bench   (about 4-5 minutes)
    .venv/bin/python scripts/bench.py --quick     # small counts, about 1-2 minutes; figures indicative

The benchmarks live in ``scripts/benchmarks/`` (one module per benchmark, the report apart); this
file is their entry point, also for the child processes they start (``bench.py --child NAME``).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchmarks.cli import main

if __name__ == "__main__":
    sys.exit(main())

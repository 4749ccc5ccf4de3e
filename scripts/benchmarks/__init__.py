"""Benchmarks: what the MoEngage provider costs Airflow, written to BENCHMARKS.md (``make bench``).

One module per benchmark (``parse``, ``overhead``, ``ratelimit``, ``memory``), the report apart
(``report``, ``causes``), shared plumbing in ``common``, and the programs run in fresh interpreters
in ``children/`` (real files, no code in strings). ``scripts/bench.py`` is the entry point.
"""

"""Programs the benchmarks run in fresh interpreters (``python FILE ARGS``), so nothing is shared."""

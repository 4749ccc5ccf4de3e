"""Report what tests/dags measured (parse time per DAG file) at the end of the run."""

from __future__ import annotations


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    rows = []
    for report in terminalreporter.stats.get("passed", []):
        for name, value in getattr(report, "user_properties", []):
            if name == "dag_file_parse_seconds":
                rows.append((report.nodeid.rsplit("[", 1)[-1].rstrip("]"), value))
    if rows:
        terminalreporter.write_sep("-", "DAG file parse time (fresh process, Airflow SDK preloaded)")
        for name, seconds in sorted(rows):
            terminalreporter.write_line(f"{name}: {seconds:.3f} s")

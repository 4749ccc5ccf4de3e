"""``scripts/bench.py`` / ``make bench``: run the benchmarks, write the report."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shutil
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from benchmarks.common import (
    CHILDREN_DIR,
    DAGS_DIR,
    DEFAULT_OUTPUT,
    FULL,
    PYTHON,
    QUICK,
    Counts,
    child_env,
    loadavg,
    run_child,
)
from benchmarks.machine import machine_info
from benchmarks.memory import bench_memory, child_memory
from benchmarks.overhead import bench_overhead, child_overhead
from benchmarks.parse import bench_parse, reference_dags
from benchmarks.ratelimit import bench_ratelimit, child_ratelimit
from benchmarks.report import render_report

CHILDREN: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "overhead": child_overhead,
    "ratelimit": child_ratelimit,
    "memory": child_memory,
}

SECTIONS: dict[str, Callable[[Counts, Path, dict[str, str], Callable[[str], None]], dict[str, Any]]] = {
    "parse": bench_parse,
    "overhead": bench_overhead,
    "ratelimit": bench_ratelimit,
    "memory": bench_memory,
}


def warm_bytecode_cache(work: Path, env: dict[str, str]) -> None:
    """Import, once and untimed, what the children import, so that their ``.pyc`` files exist."""
    paths = [*sorted(DAGS_DIR.glob("*.py")), *sorted(reference_dags(work).glob("*.py"))]
    run_child([PYTHON, str(CHILDREN_DIR / "warm.py"), *map(str, paths)], env, work / "children.log")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0].strip())
    parser.add_argument(
        "--quick", action="store_true", help="small counts (about 1-2 minutes); figures indicative"
    )
    parser.add_argument(
        "--output", type=Path, default=DEFAULT_OUTPUT, help="report path (default: BENCHMARKS.md)"
    )
    parser.add_argument("--json", type=Path, help="also write the raw figures as JSON here")
    parser.add_argument(
        "--only",
        action="append",
        choices=list(SECTIONS),
        help="run only this section (repeatable; for debugging)",
    )
    parser.add_argument(
        "--keep-workdir", action="store_true", help="keep the temporary folder (logs, Airflow home)"
    )
    parser.add_argument("--child", nargs=2, metavar=("NAME", "CONFIG"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child:
        name, cfg_path = args.child
        cfg = json.loads(Path(cfg_path).read_text())
        result = CHILDREN[name](cfg)
        Path(cfg["out"]).write_text(json.dumps(result))
        return 0

    counts = QUICK if args.quick else FULL
    started = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix="moengage-bench-"))
    (work / "airflow-home").mkdir()
    (work / "dags").mkdir()
    env = child_env(work)
    command = ".venv/bin/python scripts/bench.py" + (" --quick" if args.quick else "")
    results: dict[str, Any] = {
        "command": command,
        "quick": args.quick,
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine_info(),
        "counts": asdict(counts),
        "load_start": loadavg(),
        "sections": {},
        "section_seconds": {},
        "errors": {},
    }

    def progress(text: str) -> None:
        print(f"    {text}", flush=True)

    print(f"MoEngage provider benchmarks{' (quick)' if args.quick else ''}; work folder {work}", flush=True)
    try:
        print("[0] warming the bytecode cache", flush=True)
        warm_bytecode_cache(work, env)
        for number, (name, fn) in enumerate(SECTIONS.items(), start=1):
            if args.only and name not in args.only:
                continue
            print(f"[{number}] {name}", flush=True)
            t0 = time.monotonic()
            try:
                results["sections"][name] = fn(counts, work, env, progress)
            except Exception as err:
                text = f"{type(err).__name__}: {err}"
                results["sections"][name] = {"error": text.splitlines()[0][:300]}
                results["errors"][name] = text[-2000:]
                traceback.print_exc()
            results["section_seconds"][name] = time.monotonic() - t0
            print(f"    done in {results['section_seconds'][name]:.0f} s", flush=True)
    finally:
        results["load_end"] = loadavg()
        results["runtime_seconds"] = time.monotonic() - started
        if args.keep_workdir:
            print(f"work folder kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)

    report = render_report(results)
    args.output.write_text(report + "\n", encoding="utf-8")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str), encoding="utf-8")
    print(f"Wrote {args.output} in {results['runtime_seconds']:.0f} s.")
    summary_start = report.index("## Summary")
    print(report[summary_start : report.index("## Machine")].strip())
    return 1 if results["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())

"""
The score of each mutated module and every mutant that survived, from mutmut's results in mutants/.

Run by ``make mutate`` after ``mutmut run``; run it by hand to read the last results again:
``.venv/bin/python scripts/mutation_report.py [--only api.payload] [--min-score 90]``.
A mutant counts as killed when a test failed on it (or it ran into its time limit); a mutant no fast
test reaches counts against the score, as a survivor does. Exits 1 when a module is under ``--min-score``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

MUTANTS = Path("mutants")
KILLED = {"killed", "timeout", "caught by type check"}


def _status(exit_code: int | None) -> str:
    from mutmut.stats import status_by_exit_code

    return str(status_by_exit_code[exit_code])


def _changed_lines(name: str, path: Path) -> list[str]:
    """The lines the mutant changed, ``-`` before and ``+`` after."""
    from mutmut.mutation.diff_apply import get_diff_for_mutant

    diff = get_diff_for_mutant(name, path=path).splitlines()
    return [
        line for line in diff if line[:1] in "+-" and not line.startswith(("+++", "---")) and line[1:].strip()
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--only", help="a module under moengage_provider, e.g. api.payload")
    parser.add_argument("--min-score", type=float, default=0.0, help="percent killed each module needs")
    args = parser.parse_args(argv)

    metas = sorted(MUTANTS.glob("moengage_provider/**/*.py.meta"))
    if not metas:
        print("No mutation results in mutants/: run `make mutate` first.")
        return 1
    rows: list[tuple[str, Counter[str], float]] = []
    survivors: list[tuple[str, str, Path]] = []
    for meta in metas:
        source = meta.relative_to(MUTANTS).with_suffix("")  # moengage_provider/api/payload.py
        module = ".".join(source.with_suffix("").parts[1:])
        if args.only and module != args.only:
            continue
        results = json.loads(meta.read_text(encoding="utf-8"))["exit_code_by_key"]
        counts = Counter(_status(code) for code in results.values())
        if not results or counts["not checked"] == len(results):
            continue
        judged = sum(counts.values()) - counts["skipped"] - counts["not checked"]
        killed = sum(counts[status] for status in KILLED)
        rows.append((module, counts, 100.0 * killed / judged if judged else 100.0))
        survivors += [
            (name, _status(code), source)
            for name, code in sorted(results.items())
            if _status(code) not in KILLED | {"skipped", "not checked"}
        ]

    header = f"{'module':<22} {'killed':>6} {'survived':>8} {'no test':>7} {'timeout':>7} {'other':>5} {'score':>7}"
    print(header)
    print("-" * len(header))
    for module, counts, score in rows:
        other = sum(counts.values()) - sum(counts[s] for s in ("killed", "survived", "no tests", "timeout"))
        print(
            f"{module:<22} {counts['killed']:>6} {counts['survived']:>8} {counts['no tests']:>7} "
            f"{counts['timeout']:>7} {other:>5} {score:>6.1f}%"
        )
    if survivors:
        print(f"\n{len(survivors)} mutants not killed (docs/development.md says why each is equivalent):")
    for name, status, source in survivors:
        function = name.rpartition(".")[2].removeprefix("x_").rpartition("__mutmut_")[0]
        print(f"\n{status}: {name}  ({source}, {function})")
        for line in _changed_lines(name, source):
            print(f"    {line.strip()[:1]} {line[1:].strip()}")
    below = [module for module, _, score in rows if score < args.min_score]
    if below:
        print(f"\nUnder {args.min_score:g}% killed: {', '.join(below)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

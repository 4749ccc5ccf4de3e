"""Tables in docs/sandbox.md that copy a table of the sandbox's code must say what the code says."""

from __future__ import annotations

from pathlib import Path

from moengage_provider.testing.sandbox.ratelimits import NAMED_OPTIONS, PUBLISHED

DOC = Path(__file__).resolve().parents[2] / "docs" / "sandbox.md"


def table_after(marker: str) -> list[list[str]]:
    """The rows (cells stripped of backticks) of the first Markdown table after ``marker``."""
    lines = DOC.read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if marker in line) + 1
    rows = []
    for line in lines[start:]:
        if not line.startswith("|"):
            if rows:
                break
            continue
        rows.append([cell.strip().replace("`", "") for cell in line.strip("|").split("|")])
    return rows[2:]  # past the header and its rule


def test_the_rate_limit_table_is_the_published_one_in_code():
    documented = {
        name: (kind, int(limit), float(seconds), tuple(o.strip() for o in options.split(",")))
        for name, kind, limit, seconds, options in table_after("<!-- rate-limit windows")
    }
    in_code = {
        row.name: (
            row.kind,
            row.limit,
            row.seconds,
            tuple(option for option, (windows, _) in NAMED_OPTIONS.items() if row.name in windows),
        )
        for row in PUBLISHED
    }
    assert {k: (*v[:3], set(v[3])) for k, v in documented.items()} == {
        k: (*v[:3], set(v[3])) for k, v in in_code.items()
    }

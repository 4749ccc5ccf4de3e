"""Tables in docs/sandbox.md that copy a table of the sandbox's code must say what the code says."""

from __future__ import annotations

from pathlib import Path

from moengage_provider.testing.sandbox.api.firing import Firing
from moengage_provider.testing.sandbox.ratelimits import NAMED_OPTIONS, PUBLISHED
from moengage_provider.testing.sandbox.validation import DECLARABLE_TYPES, LEGACY_TYPE_OF, V5_TYPE_OF

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


def _cell_names(cell: str) -> list[str]:
    return [name.strip().rstrip("†") for name in cell.split(",")]


def test_the_attribute_type_table_is_the_mapping_in_code():
    documented: dict[str, tuple[str, str]] = {}
    for declared, legacy, v5, _ in table_after("<!-- attribute types table"):
        names, legacy_names = _cell_names(declared), _cell_names(legacy)
        for name, shown in zip(names, legacy_names * (len(names) // len(legacy_names)), strict=True):
            documented[name] = (shown, v5.rstrip("†"))
    in_code = {t: (LEGACY_TYPE_OF.get(t, t), V5_TYPE_OF.get(t, t)) for t in DECLARABLE_TYPES}
    assert documented == in_code


def test_the_triggered_status_table_is_the_rule_in_code():
    documented = [row[0] for row in table_after("<!-- triggered_status table")]
    reached = {
        (1, 0): Firing(triggered_campaign_ids=["a"]),
        (1, 1): Firing(triggered_campaign_ids=["a"], failed_flow_ids=["f"]),
        (0, 1): Firing(failed_campaign_ids=["a"]),
        (0, 0): Firing(),
    }
    statuses = {key: firing.triggered_status for key, firing in reached.items()}
    assert statuses == {(1, 0): "SUCCESS", (1, 1): "PARTIAL_SUCCESS", (0, 1): "FAILURE", (0, 0): "FAILURE"}
    assert documented == ["SUCCESS", "PARTIAL_SUCCESS", "FAILURE"]

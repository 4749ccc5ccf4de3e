"""The documented metric table (docs/observability.md) is the code's table: every metric documented, none
that does not exist, and the README names no metric the code does not emit."""

from __future__ import annotations

import re

from moengage_provider.metrics import METRICS, PREFIX
from tests.conftest import REPO


def _named(text: str) -> set[str]:
    return set(re.findall(rf"`{re.escape(PREFIX)}\.([a-z_]+)`", text))


def test_the_docs_list_exactly_the_metrics_the_code_emits():
    docs = (REPO / "docs" / "observability.md").read_text()
    assert _named(docs) == set(METRICS)
    assert _named((REPO / "README.md").read_text()) <= set(METRICS)
    for name, (kind, _, tag) in METRICS.items():
        row = next(line for line in docs.splitlines() if line.startswith(f"| `{PREFIX}.{name}`"))
        assert kind in row
        if tag:
            assert f"`{tag}`" in row

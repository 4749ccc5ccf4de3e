"""The README's metric table is the code's table: every metric documented, none that does not exist."""

from __future__ import annotations

import re

from moengage_provider.observability.metrics import METRICS, PREFIX
from tests.conftest import REPO


def test_readme_lists_exactly_the_metrics_the_code_emits():
    readme = (REPO / "README.md").read_text()
    documented = set(re.findall(rf"`{re.escape(PREFIX)}\.([a-z_]+)`", readme))
    assert documented == set(METRICS)
    for name, (kind, _, tag) in METRICS.items():
        row = next(line for line in readme.splitlines() if line.startswith(f"| `{PREFIX}.{name}`"))
        assert kind in row
        if tag:
            assert f"`{tag}`" in row

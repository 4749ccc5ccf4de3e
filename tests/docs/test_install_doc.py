"""
docs/install.md's commands install into a reader's venv, so tests/docs skips them and make test-wheel
runs them as written (scripts/test-wheel-install.sh reads them through tests/docs/install_commands.py).
These tests keep that true: nothing skipped is left unrun, and the README says what the page says.
"""

from __future__ import annotations

import re

from tests.docs.install_commands import INSTALL_DOC, RUN_BY_TEST_WHEEL, section_blocks
from tests.docs.markdown_blocks import blocks
from tests.docs.scenario import REPO

TEST_WHEEL = REPO / "scripts" / "test-wheel-install.sh"


def test_every_skipped_block_of_the_install_page_is_run_by_test_wheel():
    run_by_test_wheel = {b.line for heading in RUN_BY_TEST_WHEEL for b in section_blocks(heading)}
    skipped = [b for b in blocks(INSTALL_DOC) if b.kind == "skip"]
    assert skipped, "docs/install.md has no install command left"
    for block in skipped:
        assert block.line in run_by_test_wheel, f"{block.id}: skipped, and make test-wheel does not run it"
        assert "make test-wheel" in block.arg, f"{block.id}: the skip reason should name make test-wheel"
    script = TEST_WHEEL.read_text(encoding="utf-8")
    for heading in RUN_BY_TEST_WHEEL:
        assert f'doc_blocks "{heading}"' in script, f"scripts/test-wheel-install.sh never runs {heading!r}"


def test_the_readme_installs_into_an_existing_airflow_with_the_command_make_test_wheel_runs():
    """A README block that passes a constraints file is the one of docs/install.md, character for character."""
    (tested,) = section_blocks("Into an existing Airflow")
    readme = REPO / "README.md"
    for block in blocks(readme):
        if re.search(r"--constraint\b", block.text):
            assert block.text == tested.text, (
                f"{block.id} installs into an existing Airflow differently from docs/install.md "
                f"(which make test-wheel runs):\n{block.text}\n--- docs/install.md ---\n{tested.text}"
            )

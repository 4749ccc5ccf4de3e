"""
The code blocks of one section of docs/install.md, for ``scripts/test-wheel-install.sh`` to run as
written (the install commands cannot run in tests/docs: they install Airflow into a venv of the reader's).

    python -m tests.docs.install_commands "Into an existing Airflow"

prints the section's blocks, each followed by a NUL byte (``mapfile -d ''`` reads them in bash); a
section without blocks is an error, so that a renamed heading fails the test instead of running nothing.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from tests.docs.markdown_blocks import Block, blocks

INSTALL_DOC = Path(__file__).resolve().parents[2] / "docs" / "install.md"
#: The sections whose blocks make test-wheel runs; docs/install.md marks each of them skipped in tests/docs.
RUN_BY_TEST_WHEEL = ("From a checkout", "Build a wheel", "Into an existing Airflow")

_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*$")


def section_blocks(heading: str, path: Path = INSTALL_DOC) -> list[Block]:
    """The fenced blocks between the heading titled ``heading`` and the next heading of its level or above."""
    lines = path.read_text(encoding="utf-8").splitlines()
    start = end = None
    level = 0
    fenced = False
    for number, line in enumerate(lines, start=1):
        if line.lstrip().startswith("```"):
            fenced = not fenced
        match = None if fenced else _HEADING.match(line)
        if not match:
            continue
        if start is None and match[2] == heading:
            start, level = number, len(match[1])
        elif start is not None and len(match[1]) <= level:
            end = number
            break
    if start is None:
        raise LookupError(f"{path.name} has no heading {heading!r}")
    found = [b for b in blocks(path) if start < b.line and (end is None or b.line < end)]
    if not found:
        raise LookupError(f"{path.name}: the section {heading!r} has no code block")
    return found


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(
            f"usage: python -m tests.docs.install_commands HEADING  (one of {RUN_BY_TEST_WHEEL})",
            file=sys.stderr,
        )
        return 2
    for block in section_blocks(argv[0]):
        sys.stdout.write(block.text + "\0")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

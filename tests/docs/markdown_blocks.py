"""
The fenced code blocks of a Markdown file, with the ``docs-test`` marker written just before each.

A marker is an HTML comment on the line before the fence (invisible on GitHub)::

    <!-- docs-test: file dags/announce_new_season.py -->

Kinds: ``file PATH`` (the block is that file: written where the text says), ``connection`` (export
lines of connections: each must resolve), ``output`` (quoted output of the block run just before it),
``excerpt-of PATH`` (a quoted part of a file in this repo: it must be in that file, as shown) and
``skip REASON`` (deliberately not run; the reason is required). Unmarked blocks run by their language.
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass
from pathlib import Path

_FENCE = re.compile(r"^(?P<indent>\s*)(?P<fence>`{3,})(?P<lang>[\w+-]*)\s*$")
_MARKER = re.compile(r"^\s*<!--\s*docs-test:\s*(?P<kind>[\w-]+)\s*(?P<arg>.*?)\s*-->\s*$")
KINDS = {"file", "connection", "output", "excerpt-of", "skip"}


@dataclass(frozen=True)
class Block:
    path: Path  # the Markdown file
    line: int  # 1-based line of the opening fence
    lang: str
    text: str  # the content, dedented by the fence's indentation
    kind: str | None = None  # the marker's kind, None when unmarked
    arg: str = ""

    @property
    def id(self) -> str:
        return f"{self.path.name}:{self.line}"


def blocks(path: Path) -> list[Block]:
    """Every fenced block of ``path``, in order; a malformed marker or fence raises ValueError."""
    lines = path.read_text(encoding="utf-8").splitlines()
    found: list[Block] = []
    i = 0
    while i < len(lines):
        match = _FENCE.match(lines[i])
        if not match:
            i += 1
            continue
        start, indent, fence = i, match["indent"], match["fence"]
        body: list[str] = []
        i += 1
        while i < len(lines) and lines[i].strip() != fence:
            body.append(lines[i])
            i += 1
        if i == len(lines):
            raise ValueError(f"{path}:{start + 1}: code block never closed")
        i += 1
        kind, arg = _marker_before(lines, start, path)
        text = textwrap.dedent(
            "\n".join(line[len(indent) :] if line.startswith(indent) else line for line in body)
        )
        found.append(Block(path, start + 1, match["lang"].lower(), text + "\n", kind, arg))
    return found


def _marker_before(lines: list[str], fence_index: int, path: Path) -> tuple[str | None, str]:
    j = fence_index - 1
    while j >= 0 and not lines[j].strip():
        j -= 1
    if j < 0:
        return None, ""
    match = _MARKER.match(lines[j])
    if not match:
        if "docs-test" in lines[j]:
            raise ValueError(f"{path}:{j + 1}: malformed docs-test marker: {lines[j].strip()}")
        return None, ""
    kind, arg = match["kind"], match["arg"]
    if kind not in KINDS:
        raise ValueError(f"{path}:{j + 1}: unknown docs-test marker {kind!r}; use one of {sorted(KINDS)}")
    if kind in ("file", "excerpt-of", "skip") and not arg:
        raise ValueError(f"{path}:{j + 1}: docs-test {kind} needs an argument")
    return kind, arg

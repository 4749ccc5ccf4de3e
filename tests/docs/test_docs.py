"""
Every code block of README.md and docs/*.md, run as written (see tests/docs/markdown_blocks.py for
the markers). Each document runs top to bottom in its own fresh folder, in one shell session, as a
reader following it would; each block is one test, failing with its output and its line.
"""

from __future__ import annotations

import io
import textwrap
import tokenize
from pathlib import Path

import pytest

from tests.docs import scenario
from tests.docs.markdown_blocks import Block, blocks

REPO = scenario.REPO
DOCUMENTS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]

# The documents' blocks run migrations and DAGs: minutes on a loaded machine.
pytestmark = pytest.mark.timeout(scenario.SCENARIO_TIMEOUT + 120)


def _steps(document: Path) -> list[scenario.Step]:
    steps: list[scenario.Step] = []
    for n, block in enumerate(blocks(document)):
        if block.kind in ("skip", "excerpt-of"):
            continue
        if block.kind == "output":
            if not steps:
                raise ValueError(f"{block.id}: an output block needs a block run before it")
            steps[-1].expected_output = (steps[-1].expected_output or "") + block.text
        elif block.kind == "file":
            steps.append(scenario.file_step(block))
        elif block.kind == "connection":
            steps.append(scenario.connection_step(block))
        elif block.lang in scenario.SHELL_LANGS:
            steps.append(scenario.shell_step(block))
        elif block.lang == "python":
            steps.append(scenario.python_step(block, n))
        elif block.lang == "json":
            steps.append(
                scenario.Step(
                    block, f"python -m json.tool > /dev/null <<'DOCS_TEST_EOF'\n{block.text}DOCS_TEST_EOF\n"
                )
            )
    return steps


def _cases() -> list:
    cases = []
    for document in DOCUMENTS:
        for block in blocks(document):
            if block.kind == "skip" or (
                block.kind is None and block.lang not in {"python", "json", *scenario.SHELL_LANGS}
            ):
                continue  # deliberately not run, or quoted text (see test_every_block_is_run_or_says_why)
            cases.append(pytest.param(document, block, id=block.id, marks=_one_worker(document)))
    return cases


def _one_worker(document: Path) -> pytest.MarkDecorator:
    """Under pytest-xdist, a document's tests run on one worker, which runs the document once."""
    return pytest.mark.xdist_group(f"docs-{document.name}")


_RESULTS: dict[Path, tuple[list[scenario.Step], scenario.Result]] = {}


@pytest.fixture
def ran(tmp_path_factory: pytest.TempPathFactory):
    def get(document: Path) -> tuple[list[scenario.Step], scenario.Result]:
        if document not in _RESULTS:
            steps = _steps(document)
            folder = tmp_path_factory.mktemp(f"docs-{document.stem}")
            _RESULTS[document] = (steps, scenario.run(steps, folder))
        return _RESULTS[document]

    return get


@pytest.mark.parametrize(("document", "block"), _cases())
def test_block_runs_as_written(document: Path, block: Block, ran):
    where = f"{document.relative_to(REPO)}:{block.line}"
    if block.kind == "excerpt-of":
        source = (REPO / block.arg).read_text(encoding="utf-8")
        assert _code(block.text) in _code(source), f"{where}: this excerpt is no longer in {block.arg}"
        return
    steps, result = ran(document)
    line = block.line
    if block.kind == "output":  # checked with the block it quotes
        line = max(s.block.line for s in steps if s.block.line < block.line)
    step = next(s for s in steps if s.block.line == line)
    if line not in result.ran:
        first = f"block at line {result.failed_at} failed first" if result.failed_at else "nothing ran"
        pytest.fail(f"{where}: not reached; {first}\n{result.log[-3000:]}", pytrace=False)
    ok, output = result.ran[line]
    assert ok, f"{where} failed as written:\n{block.text}\n--- its output ---\n{output[-6000:]}"
    if step.expected_output and (block.kind == "output" or step.block is block):
        missing = scenario.matches(step.expected_output, output)
        assert not missing, (
            f"{where}: the text quotes lines the code does not print: {missing}\n--- output ---\n{output[-6000:]}"
        )


def _code(text: str) -> str:
    """Python source as its tokens, without comments or layout: an excerpt may comment differently."""
    skip = {
        tokenize.COMMENT,
        tokenize.NL,
        tokenize.NEWLINE,
        tokenize.INDENT,
        tokenize.DEDENT,
        tokenize.ENDMARKER,
    }
    tokens = tokenize.generate_tokens(io.StringIO(textwrap.dedent(text)).readline)
    return " ".join(token.string for token in tokens if token.type not in skip)


@pytest.mark.parametrize("document", [pytest.param(d, id=d.name, marks=_one_worker(d)) for d in DOCUMENTS])
def test_no_block_makes_airflow_warn_about_a_short_secret(document: Path, ran):
    """A value under 5 characters in a connection makes the masker warn in every task log."""
    _, result = ran(document)
    for line, (_, output) in result.ran.items():
        assert "Skipping masking for a secret" not in output, f"{document.name}:{line}"


def test_every_block_is_run_or_says_why():
    """Unmarked text blocks are quoted output; anything else not run must give its reason."""
    for document in DOCUMENTS:
        for block in blocks(document):  # raises on a malformed or unknown marker
            if block.kind == "skip":
                assert len(block.arg) > 10, f"{block.id}: say why this block is not run"

"""
Run a Markdown file's blocks top to bottom, as a reader would: one bash session in a fresh folder.

Shell blocks run in that one session (their exports carry on, as in a terminal); files are written
where the text says; Python runs with the project's interpreter first on PATH; a Python block with
tests in it runs under pytest. Nothing of the test session's own Airflow set-up leaks in: the reader
starts with no AIRFLOW_* variables and HOME in the fresh folder.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from tests.docs.markdown_blocks import Block

REPO = Path(__file__).resolve().parents[2]
SHELL_LANGS = {"console", "bash", "sh", "shell"}
#: Whole-document deadline: a migrate and a dag.test() take a minute or more on a loaded machine.
SCENARIO_TIMEOUT = 900

#: Checks run for a ``connection`` block: every AIRFLOW_CONN_* just exported must resolve.
CHECK_CONNECTIONS = r"""
import os, sys
from airflow.providers.common.compat.sdk import BaseHook
for name in sys.argv[1:]:
    conn_id = name.removeprefix("AIRFLOW_CONN_").lower()
    conn = BaseHook.get_connection(conn_id)
    if conn.conn_type == "moengage":
        from moengage_provider.hooks.connection import resolve_connection
        where = resolve_connection(conn).base_url
    else:
        where = conn.get_uri()
    print(f"{conn_id}: {conn.conn_type} -> {where}")
"""


@dataclass
class Step:
    block: Block
    script: str  # bash, run in the document's session
    expected_output: str | None = None  # lines that must appear in this step's output


@dataclass
class Result:
    ran: dict[int, tuple[bool, str]] = field(default_factory=dict)  # block line -> (ok, output)
    failed_at: int | None = None
    log: str = ""


def shell_step(block: Block) -> Step:
    """A console block: ``$ `` lines are commands and the others their output; else the whole script."""
    lines = block.text.splitlines()
    if not any(line.startswith("$ ") for line in lines):
        return Step(block, block.text)
    commands, output = [], []
    for line in lines:
        (commands if line.startswith("$ ") else output).append(line.removeprefix("$ "))
    return Step(block, "\n".join(commands) + "\n", "\n".join(output) or None)


def python_step(block: Block, n: int) -> Step:
    if re.search(r"^def test_", block.text, re.M):
        name = f"test_docs_block_{n}.py"
        return Step(block, _write(name, block.text) + f"python -m pytest -q -p no:cacheprovider {name}\n")
    return Step(block, f"python - <<'DOCS_TEST_EOF'\n{block.text}DOCS_TEST_EOF\n")


def file_step(block: Block) -> Step:
    script = _write(block.arg, block.text)
    if block.arg.endswith(".py"):
        script += f'python -m py_compile "{block.arg}"\n'
    elif block.arg.endswith(".json"):
        script += f'python -c "import json, sys; json.load(open(sys.argv[1]))" "{block.arg}"\n'
    return Step(block, script)


def connection_step(block: Block) -> Step:
    names = re.findall(r"^\s*export\s+(AIRFLOW_CONN_\w+)=", block.text, re.M)
    if not names:
        raise ValueError(f"{block.id}: a connection block exports no AIRFLOW_CONN_* variable")
    script = ""
    for line in block.text.splitlines():  # each export checked before the next one replaces it
        script += line + "\n"
        match = re.match(r"^\s*export\s+(AIRFLOW_CONN_\w+)=", line)
        if match:
            script += f"python - {match[1]} <<'DOCS_TEST_EOF'\n{CHECK_CONNECTIONS}DOCS_TEST_EOF\n"
    return Step(block, script)


def _write(path: str, text: str) -> str:
    return f'mkdir -p "$(dirname "{path}")"\ncat > "{path}" <<\'DOCS_TEST_EOF\'\n{text}DOCS_TEST_EOF\n'


def matches(expected: str, actual: str) -> list[str]:
    """The expected lines missing from ``actual``; numbers and MoEngage API hosts may differ."""
    missing = []
    for line in (raw.strip() for raw in expected.splitlines()):
        if not line:
            continue
        pattern = re.escape(line)
        pattern = re.sub(r"api\\-\d+\\\.moengage\\\.com", r"[\\w.:-]+", pattern)
        pattern = re.sub(r"\d+", r"\\d+", pattern)
        if not re.search(pattern, actual):
            missing.append(line)
    return missing


def environment(folder: Path) -> dict[str, str]:
    """A reader's terminal: the project's venv on PATH, no Airflow settings, HOME in the fresh folder."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "PYTEST", "MOENGAGE"))}
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        env.pop(name, None)
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["HOME"] = str(folder)
    return env


def run(steps: list[Step], folder: Path) -> Result:
    """Run the steps in one bash session; stop at the first failure, as a reader would."""
    state = folder / ".docs-test"
    state.mkdir(parents=True)
    script = ["set -eo pipefail"]
    for step in steps:
        out = shlex.quote(str(state / f"{step.block.line}.out"))
        script += [
            f"echo {step.block.line} > {shlex.quote(str(state / 'current'))}",
            f"{{\n{step.script}}} > {out} 2>&1",
            f"echo ok > {shlex.quote(str(state / f'{step.block.line}.ok'))}",
        ]
    (state / "scenario.sh").write_text("\n".join(script) + "\n")
    result = Result()
    process = subprocess.Popen(
        ["bash", str(state / "scenario.sh")],
        cwd=folder,
        env=environment(folder),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group: whatever a block started is stopped with it
    )
    try:
        result.log, _ = process.communicate(timeout=SCENARIO_TIMEOUT)
    except subprocess.TimeoutExpired:
        result.log = f"the document's blocks did not finish within {SCENARIO_TIMEOUT} s"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    for step in steps:
        line = step.block.line
        output_file = state / f"{line}.out"
        if not output_file.exists():
            break
        output = output_file.read_text(errors="replace")
        ok = (state / f"{line}.ok").exists()
        result.ran[line] = (ok, output)
        if not ok:
            result.failed_at = line
            break
    return result

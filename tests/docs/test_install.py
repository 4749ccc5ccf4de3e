"""
The README's install from a checkout, run as written in a fresh venv: its lines, in a copy of the
checkout, with nothing installed beforehand.

Two liberties, both outside the block's text: ``pip`` is uv's pip interface (the README gives
``uv pip install .`` as the same command; pip itself would resolve Airflow's ~200 dependencies from the
index for minutes), and the versions are held to ``uv.lock``'s (a constraints file in ``UV_CONSTRAINT``),
so the install comes from uv's cache instead of whatever the index published today.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.docs.markdown_blocks import Block, blocks
from tests.test_packaging import uv

REPO = Path(__file__).resolve().parents[2]
#: What a checkout needs to build (hatchling's sdist list in pyproject.toml).
CHECKOUT_FILES = ("pyproject.toml", "README.md", "CHANGELOG.md", "LICENSE", "moengage_provider")


def readme_install_block() -> Block:
    [block] = [b for b in blocks(REPO / "README.md") if b.kind == "skip" and Path(__file__).name in b.arg]
    return block


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    copy = tmp_path / "checkout"
    copy.mkdir()
    for name in CHECKOUT_FILES:
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, copy / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, copy / name)
    return copy


@pytest.mark.timeout(600)
def test_readme_install_from_a_checkout_in_a_fresh_venv(tmp_path: Path, checkout: Path) -> None:
    block = readme_install_block()
    assert "pip install ." in block.text
    venv, shims = tmp_path / "venv", tmp_path / "shims"
    subprocess.run([uv(), "venv", "--quiet", "--python", sys.executable, str(venv)], check=True, timeout=120)
    shims.mkdir()
    (shims / "pip").write_text(f'#!/bin/sh\nexec "{uv()}" pip "$@"\n')
    (shims / "pip").chmod(0o755)
    constraints = tmp_path / "constraints.txt"
    subprocess.run(
        [uv(), "export", "--frozen", "--quiet", "--no-hashes", "--no-emit-project", "--all-extras",
         "--output-file", str(constraints)],
        cwd=REPO, check=True, timeout=120,
    )  # fmt: skip
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "PYTEST", "VIRTUAL_ENV"))}
    env.update(
        VIRTUAL_ENV=str(venv),
        PATH=f"{shims}{os.pathsep}{venv / 'bin'}{os.pathsep}/usr/local/bin:/usr/bin:/bin",
        UV_CONSTRAINT=str(constraints),
        HOME=str(tmp_path),
    )
    ran = subprocess.run(
        ["bash", "-eo", "pipefail", "-c", block.text],
        cwd=checkout, env=env, capture_output=True, text=True, timeout=500,
    )  # fmt: skip
    assert ran.returncode == 0, (
        f"README.md:{block.line} failed as written:\n{ran.stdout[-3000:]}{ran.stderr[-3000:]}"
    )

    # The provider and pytest come from the fresh venv, and pytest offers the sandbox fixture.
    empty = tmp_path / "empty"
    empty.mkdir()
    python = str(venv / "bin" / "python")
    where = subprocess.run(
        [python, "-c", "import moengage_provider, pytest; print(moengage_provider.__file__)"],
        cwd=empty, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert where.returncode == 0 and where.stdout.startswith(str(venv)), where.stdout + where.stderr
    fixtures = subprocess.run(
        [python, "-m", "pytest", "--fixtures", "-p", "no:cacheprovider"],
        cwd=empty, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert "moengage_sandbox" in fixtures.stdout, fixtures.stdout[-3000:] + fixtures.stderr[-3000:]

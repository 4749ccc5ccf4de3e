"""The wheel and sdist build, pass twine's metadata check, and the wheel works in a clean venv."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.conftest import REPO, airflow_env

# Under pytest-xdist, on one worker: the wheel and sdist (a module fixture) are built once.
pytestmark = pytest.mark.xdist_group("packaging")


def uv() -> str:
    found = shutil.which("uv") or str(REPO / ".tools" / "bin" / "uv")
    if not Path(found).exists():
        pytest.fail("uv not found: run the tests through `make test`, which installs it")
    return found


@pytest.fixture(scope="module")
def dist(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run([uv(), "build", "--quiet", "--out-dir", str(out), str(REPO)], check=True, timeout=300)
    return out


def test_wheel_and_sdist_pass_twine_check(dist):
    wheels, sdists = list(dist.glob("*.whl")), list(dist.glob("*.tar.gz"))
    assert len(wheels) == 1 and len(sdists) == 1
    result = subprocess.run(
        [sys.executable, "-m", "twine", "check", "--strict", *map(str, wheels + sdists)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_wheel_ships_typed_package_sandbox_and_entry_points(dist):
    (wheel,) = dist.glob("*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        entry_points = next(archive.read(n).decode() for n in names if n.endswith("entry_points.txt"))
    assert "moengage_provider/py.typed" in names
    assert "moengage_provider/testing/sandbox/__main__.py" in names
    assert not [n for n in names if n.startswith(("tests/", "dags/"))]
    assert "apache_airflow_provider" in entry_points and "pytest11" in entry_points


@pytest.mark.timeout(600)
def test_wheel_in_a_clean_venv_is_listed_by_airflow(dist, tmp_path, airflow_db):
    (wheel,) = dist.glob("*.whl")
    venv = tmp_path / "venv"
    subprocess.run([uv(), "venv", "--quiet", "--python", sys.executable, str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    subprocess.run(
        [uv(), "pip", "install", "--quiet", "--python", str(python), str(wheel), "apache-airflow==3.3.2"],
        check=True,
        timeout=500,
    )
    env = airflow_env()
    env["PATH"] = f"{venv / 'bin'}:{env['PATH']}"
    result = subprocess.run(
        [str(python), "-m", "airflow", "providers", "list", "--output", "json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    listed = {p["package_name"]: p["version"] for p in json.loads(result.stdout)}
    assert listed.get("airflow-provider-moengage") == "0.1.0"
    # The import resolves to the installed wheel, not to this checkout.
    where = subprocess.run(
        [str(python), "-c", "import moengage_provider; print(moengage_provider.__file__)"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    ).stdout
    assert str(venv) in where

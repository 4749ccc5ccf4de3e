"""
One Airflow home per test process: a temp folder with a migrated SQLite DB and a dags folder. Under
pytest-xdist (``make test`` runs the suite on several workers) each worker is a process of its own,
so each has its own home and DB; the migration itself runs once per test run and is copied.

The environment is set at import, before anything imports Airflow, so every test (and every
``airflow`` subprocess a test starts with ``airflow_env()``) of the process sees the same home.
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path

import pytest
from hypothesis import Phase as HypothesisPhase
from hypothesis import settings as hypothesis_settings
from packaging.version import Version

REPO = Path(__file__).resolve().parent.parent
AIRFLOW_HOME = Path(tempfile.mkdtemp(prefix="moengage-test-airflow-home-"))
DAGS_FOLDER = AIRFLOW_HOME / "dags"
DAGS_FOLDER.mkdir()

_AIRFLOW_SETTINGS = {
    "AIRFLOW_HOME": str(AIRFLOW_HOME),
    "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_FOLDER),
    "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
    "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
    "AIRFLOW__CORE__TEST_CONNECTION": "Enabled",
    "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
    # Airflow 2.11 warns at import until this is set (Airflow 3's behaviour); Airflow 3 ignores it.
    "AIRFLOW__METRICS__TIMER_UNIT_CONSISTENCY": "True",
}
os.environ.update(_AIRFLOW_SETTINGS)
# Tests talk to 127.0.0.1 only; a proxy set on the machine must not capture that traffic.
for _name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
    os.environ.pop(_name, None)
os.environ["NO_PROXY"] = os.environ["no_proxy"] = "127.0.0.1,localhost"


#: The installed Airflow, read without importing it (the environment above must be set first).
AIRFLOW_VERSION = Version(version("apache-airflow")).base_version
AIRFLOW_3_PLUS = Version(AIRFLOW_VERSION) >= Version("3.0")
AIRFLOW_3_1_PLUS = Version(AIRFLOW_VERSION) >= Version("3.1")
AIRFLOW_3_2_PLUS = Version(AIRFLOW_VERSION) >= Version("3.2")
AIRFLOW_3_3_PLUS = Version(AIRFLOW_VERSION) >= Version("3.3")
#: For tests of features that only exist from Airflow 3.3: the task state store (at-most-once reruns)
#: and retry policies. Below 3.3 the provider runs without them (plain retries, a warning on reruns).
requires_airflow_3_3 = pytest.mark.skipif(
    not AIRFLOW_3_3_PLUS,
    reason=f"needs Airflow 3.3+ (task state store, RetryPolicy); this is Airflow {AIRFLOW_VERSION}",
)


requires_airflow_3 = pytest.mark.skipif(
    not AIRFLOW_3_PLUS, reason=f"needs Airflow 3 (the task SDK); this is Airflow {AIRFLOW_VERSION}"
)


#: Sample DAGs written for Airflow 3's assets (named assets, asset events); Airflow 2 has URI-only datasets.
AIRFLOW_3_ONLY_SAMPLES = ("moengage_asset_load_episodes", "moengage_asset_announce_episodes")


def runs_on_this_airflow(paths):
    """The sample DAG files this Airflow can load (all of them on Airflow 3)."""
    return [p for p in paths if AIRFLOW_3_PLUS or Path(p).stem not in AIRFLOW_3_ONLY_SAMPLES]


#: What older Airflow lacks for a test (not the provider: the feature or the harness the test uses).
#: (applies, part of the test id, reason). One table, applied at collection.
VERSION_GAPS = [
    (
        not AIRFLOW_3_PLUS,
        "test_the_notifier_shows_the_event_as_an_output_of_the_task_it_is_attached_to",
        "on Airflow 2 (OpenLineage provider 2.20.3) the task's COMPLETE event does not carry the hook"
        " lineage a success callback reports, so a notifier's event is not in it (the operator's is)",
    ),
    (
        AIRFLOW_3_PLUS and not AIRFLOW_3_1_PLUS,
        "tests/observability/test_openlineage_events.py",
        "3.0's `airflow dags test` fails with the OpenLineage listener on (DetachedInstanceError on"
        " DagRun.task_instances_histories, in Airflow's own run code)",
    ),
    (
        not AIRFLOW_3_PLUS,
        "test_each_sample_runs_when_triggered_without_a_logical_date",
        "runs without a logical date exist from Airflow 3 on (a 2.x run always has an execution date)",
    ),
    (
        not AIRFLOW_3_PLUS,
        "tests/docs/",
        "the documentation's DAGs and tests are written for Airflow 3 (airflow.sdk); README: Versions",
    ),
    (not AIRFLOW_3_PLUS, "asset", "the asset samples need Airflow 3 assets (Asset(name=...), asset events)"),
    (
        not AIRFLOW_3_PLUS,
        "test_two_loads_before_the_announcement",
        "it runs the asset samples (Airflow 3 assets)",
    ),
    (
        not AIRFLOW_3_PLUS,
        "test_each_messaging_dag_fires_one_declared_event",
        "it checks all five samples; the two asset samples need Airflow 3 assets",
    ),
    (
        not AIRFLOW_3_1_PLUS,
        "tests/dags/test_demo.py",
        "the demo runs on the Airflow in uv.lock (it uses Airflow 3.1+'s DAG bag API)",
    ),
    (
        AIRFLOW_3_PLUS and not AIRFLOW_3_1_PLUS,
        "test_asset_load",
        "the test hands the asset events to the consumer's run through dag.test()'s"
        " airflow.models.dagrun.get_or_create_dagrun, which 3.0 does not have (added in 3.1)",
    ),
    (
        AIRFLOW_3_PLUS and not AIRFLOW_3_1_PLUS,
        "test_two_loads_before_the_announcement",
        "the test hands the asset events to the consumer's run through dag.test()'s"
        " airflow.models.dagrun.get_or_create_dagrun, which 3.0 does not have (added in 3.1)",
    ),
    (
        AIRFLOW_3_PLUS and not AIRFLOW_3_1_PLUS,
        "test_one_log_line_names_event_host_and_attribute_names_not_values",
        "3.0's dag.test() prints each task log line twice (its own stdout handler besides structlog's"
        " line), so 'one line' cannot be counted there; a deployment's task log has it once",
    ),
    (
        AIRFLOW_3_PLUS and not AIRFLOW_3_1_PLUS,
        "test_connection_refused_is_retried_then_says_nothing_was_sent",
        "after a dag.test() in the same pytest process, 3.0's stdlib log handler keeps the stderr of"
        " the test that configured it, so capfd misses the hook's retry lines (passes run alone)",
    ),
    (
        not AIRFLOW_3_PLUS,
        "tests/test_bench_script.py",
        "the benchmarks run on the Airflow in uv.lock (make bench)",
    ),
    (
        not AIRFLOW_3_PLUS,
        "test_wheel_and_sdist_pass_twine_check",
        "Airflow 2.11's pins hold twine at 6.2, which cannot read metadata 2.5; checked with uv.lock's tools",
    ),
    (
        not AIRFLOW_3_3_PLUS,
        "test_wheel_in_a_clean_venv_is_listed_by_airflow",
        "it installs the wheel with Airflow 3.3.2 on this session's DB; older Airflow: scripts/test-wheel-install.sh",
    ),
]


@pytest.hookimpl(trylast=True)  # after the folders' conftests have marked their tests
def pytest_collection_modifyitems(config, items):
    for item in items:
        for applies, part, reason in VERSION_GAPS:
            if applies and part in item.nodeid:
                item.add_marker(pytest.mark.skip(reason=f"Airflow {AIRFLOW_VERSION}: {reason}"))
    if getattr(config.option, "loadgroup", False):  # an xdist worker of `--dist loadgroup`
        _name_xdist_groups_in_test_ids(items)
        _longest_first(items)


#: Runs of minutes (parts of test ids, an xdist group after "@"), in the order they start under
#: xdist (with --no-loadscope-reorder, the scheduler hands out work in collection order): a run of
#: minutes that starts near the end would keep its worker busy long after the others are done.
LONGEST_FIRST = (
    "@deployments",
    "tests/test_bench_script.py",
    "@docs-README.md",
    "@ui-test_connection_test",
    "test_the_fixture_isolates_airflow_state_by_default",
    "tests/operators/test_reruns.py",
    "tests/operators/test_mapped_load.py",
    "tests/test_secrets.py",
    "tests/dags/test_demo.py",
)


def _longest_first(items) -> None:
    def rank(item) -> int:
        return next((n for n, part in enumerate(LONGEST_FIRST) if part in item.nodeid), len(LONGEST_FIRST))

    items.sort(key=rank)


def _name_xdist_groups_in_test_ids(items) -> None:
    """
    ``--dist loadgroup`` keeps the tests of one ``xdist_group`` on one worker: the worker appends
    ``@group`` to each test's id and the scheduler groups by it. pytest-xdist 3.8 writes the id where
    pytest 9.2 no longer reads it (pytest-dev/pytest-xdist#1386), so every group would be spread over
    the workers, starting its deployment or server once on each: append the group here when missing.
    """
    for item in items:
        names = {
            m.args[0] if m.args else m.kwargs.get("name", "default") for m in item.iter_markers("xdist_group")
        }
        suffix = "@" + "_".join(sorted(map(str, names)))
        if names and not item.nodeid.endswith(suffix):
            item._id = type(item._id).parse(item.nodeid + suffix)


def airflow_env(**extra: str) -> dict[str, str]:
    """Environment for an ``airflow`` subprocess that shares this session's home and DB."""
    env = dict(os.environ)
    env.update(_AIRFLOW_SETTINGS)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env.update(extra)
    return env


@pytest.fixture(scope="session")
def migrated_airflow_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """
    A freshly migrated SQLite metadata DB, never opened by a test: copy it. ``airflow db migrate``
    takes about 6 s of CPU, so it runs once per test run: under xdist the first worker that needs it
    migrates, the others wait for the file (the run's temp folder holds every worker's folder).
    """
    shared = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        shared = shared.parent
    template = shared / "migrated-airflow.db"
    with _exclusive(shared / "migrated-airflow.db.lock"):
        if not template.exists():
            home = shared / "migrated-airflow-home"
            partial = home / "airflow.db"
            home.mkdir(exist_ok=True)
            subprocess.run(
                [sys.executable, "-m", "airflow", "db", "migrate"],
                env=airflow_env(
                    AIRFLOW_HOME=str(home),
                    AIRFLOW__CORE__DAGS_FOLDER=str(home / "dags"),
                    AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"sqlite:///{partial}",
                ),
                check=True,
                capture_output=True,
                timeout=300,
            )
            os.replace(partial, template)
    return template


@pytest.fixture(scope="session")
def airflow_db(migrated_airflow_db: Path) -> Path:
    """This process's home with its own copy of the migrated DB; tests that run DAGs depend on it."""
    marker = AIRFLOW_HOME / ".migrated"
    if not marker.exists():
        shutil.copyfile(migrated_airflow_db, AIRFLOW_HOME / "airflow.db")
        marker.touch()
    return AIRFLOW_HOME


@contextlib.contextmanager
def _exclusive(lock_path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``lock_path`` (created if missing) across processes."""
    with lock_path.open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


@pytest.fixture
def dag_from_source(airflow_db: Path):
    """Write a DAG file into the session's dags folder, import it, and return its DAG object."""

    def load(source: str, dag_id: str | None = None):
        name = f"test_dag_{uuid.uuid4().hex[:10]}"
        path = DAGS_FOLDER / f"{name}.py"
        path.write_text(source)
        return load_dag_file(path, dag_id)

    return load


def load_dag_file(path: Path, dag_id: str | None = None):
    """Import a DAG file under a unique module name and return the (only, or named) DAG in it."""
    from airflow.providers.common.compat.sdk import DAG

    module_name = f"_dagfile_{path.stem}_{uuid.uuid4().hex[:6]}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    dags = [value for value in vars(module).values() if isinstance(value, DAG)]
    if dag_id is not None:
        dags = [dag for dag in dags if dag.dag_id == dag_id]
    assert len(dags) == 1, f"expected one DAG in {path}, found {[d.dag_id for d in dags]}"
    return dags[0]


@pytest.fixture(scope="session")
def sample_dags_folder(airflow_db: Path) -> Path:
    """The repo's sample DAGs (and their data files), copied into the session's dags folder."""
    target = DAGS_FOLDER / "samples"
    if not target.exists():
        skipped = [] if AIRFLOW_3_PLUS else [f"{name}.py" for name in AIRFLOW_3_ONLY_SAMPLES]
        shutil.copytree(REPO / "dags", target, ignore=shutil.ignore_patterns("__pycache__", *skipped))
    return target


@pytest.fixture(autouse=True)
def dags_folder_as_found() -> Iterator[None]:
    """
    The DAG files a test writes into the dags folder are removed after it. ``airflow dags test`` and
    ``airflow tasks test`` parse every file in the folder and write each DAG to the DB: with the files
    of every earlier test left there, each such command of the session took longer than the last.
    """
    before = set(DAGS_FOLDER.iterdir())
    yield
    for path in set(DAGS_FOLDER.iterdir()) - before:
        if path.is_file():
            path.unlink()


def pytest_sessionstart(session):
    # Again when one process runs several sessions (mutmut runs pytest.main once per stage), each
    # after the last one removed the home.
    DAGS_FOLDER.mkdir(parents=True, exist_ok=True)


def pytest_sessionfinish(session, exitstatus):
    shutil.rmtree(AIRFLOW_HOME, ignore_errors=True)


# `make mutate` (pyproject's [tool.mutmut]): the same examples on every run and no shrinking, so a
# mutant's verdict does not depend on luck and a failing property stops at its first counterexample.
hypothesis_settings.register_profile(
    "mutation",
    max_examples=34,
    derandomize=True,
    database=None,
    phases=(HypothesisPhase.explicit, HypothesisPhase.generate),
)


def examples(count: int) -> int:
    """
    ``count`` hypothesis examples under the default profile (max_examples 100), scaled by the loaded
    profile's max_examples: a third of them under `make mutate`, where every surviving mutant reruns
    the properties. For a property's ``@settings(max_examples=examples(300))``.
    """
    return max(10, count * hypothesis_settings.default.max_examples // 100)

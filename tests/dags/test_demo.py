"""
scripts/demo.py, the first thing a new user runs: it must work from a fresh clone, print what
MoEngage received with the attribute types, stop the sandbox whatever happens, never show the API
key, and exit non-zero when a DAG run fails or nothing arrives.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "scripts" / "demo.py"
KEY_PATTERN = re.compile(r"demo-[A-Za-z0-9_-]{32}")


@pytest.fixture(scope="module")
def demo():
    spec = importlib.util.spec_from_file_location("moengage_demo_script", DEMO)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_docs_describe_what_the_demo_runs(demo):
    """docs/samples.md's "The demo" names every sample the demo runs, and its V5 trigger."""
    text = (REPO / "docs" / "samples.md").read_text(encoding="utf-8")
    section = text[text.index("### The demo") :]
    section = section[: section.index("\n## ")] if "\n## " in section else section
    for dag_id, _ in demo.DAGS:
        assert dag_id in section, dag_id
    assert "API V5" in section and "triggered_status" in section


def test_the_metrics_docs_say_what_to_install():
    """Airflow sends StatsD metrics only with the statsd client: the page must say so."""
    assert "apache-airflow[statsd]" in (REPO / "docs" / "observability.md").read_text(encoding="utf-8")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers kill(0); its state letter says it has exited.
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().split(")")[-1].split()[0] == "Z")


def _sandbox_pid(output: str) -> int:
    match = re.search(r"Stopping the MoEngage sandbox \(pid (\d+)\)", output)
    assert match, output
    return int(match.group(1))


@pytest.mark.timeout(900)  # a migrate and a DAG run, each an Airflow start-up: minutes on a loaded machine
def test_demo_runs_dag_1_end_to_end_and_prints_what_moengage_received(tmp_path: Path):
    home = tmp_path / "demo-home"
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    proc = subprocess.run(
        [sys.executable, str(DEMO), "--home", str(home), "--dag", "moengage_load_then_announce"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out

    # Progress a new user can follow, without Airflow's own noise.
    assert "Preparing Airflow's metadata database (airflow db migrate) ... done" in out
    assert re.search(r"Starting the MoEngage sandbox \.\.\. listening on http://127\.0\.0\.1:\d+", out)
    assert "airflow dags test moengage_load_then_announce" in out
    assert "success in" in out and "MoEngage received 1 event" in out
    assert "[info" not in out and "Traceback" not in out
    assert f"Airflow's own output: {home / 'demo.log'}" in out

    # What arrived, attribute by attribute, with JSON types.
    assert "1. NewTitlesAdded   triggered_by: data-platform@example.com" in out
    assert "new_titles     = 15 (int)" in out
    assert "total_episodes = 74 (int)" in out
    assert "catalog_size   = 15 (int)" in out
    assert 'first_release  = "2024-06-07" (string, an ISO date)' in out
    assert "(array of 15 strings)" in out and "(array of 11 strings)" in out

    # One trigger through API V5, and what came back about the event's campaigns.
    assert (
        "One trigger through MoEngage's Business Events API V5 (extra api_version=api-v5) ... SUCCESS" in out
    )
    assert "1 of 1 campaigns and flows triggered, 0 skipped by quota" in out
    assert re.search(r"response_id resp_[0-9a-f]{32} \(X-MOE-Request-Id [0-9a-f-]{36}\)", out)

    # The record the output was built from, and Airflow's log kept out of the console.
    legacy, v5 = (json.loads(line) for line in (home / "moengage-received.jsonl").read_text().splitlines())
    assert legacy["event_attributes"]["new_titles"] == 15
    assert (v5["api_version"], v5["triggered_status"], v5["event_attributes"]["new_titles"]) == (
        "v5",
        "SUCCESS",
        1,
    )
    log = (home / "demo.log").read_text()
    assert "Marking run <DagRun moengage_load_then_announce" in log

    # The sandbox was stopped, and the API key shown nowhere.
    assert not _pid_alive(_sandbox_pid(out))
    assert not KEY_PATTERN.search(out)
    assert not KEY_PATTERN.search(log)


def _fake_airflow(demo_module, monkeypatch, *, dag_result: bool, interrupt: bool = False):
    """Replace only the ``airflow`` subprocesses; the sandbox subprocess stays real."""
    calls = []

    def airflow(self, *args, check=True):
        calls.append(args)
        self._write_log(f"pretend output of airflow {' '.join(args)}\n")
        if args[:2] == ("dags", "test"):
            if interrupt:
                raise KeyboardInterrupt
            return dag_result
        return True

    monkeypatch.setattr(demo_module.Demo, "_airflow", airflow)
    monkeypatch.setattr(demo_module.Demo, "_v5_trigger_answer", lambda self: {"data": {}})
    return calls


def test_demo_exits_non_zero_stops_the_sandbox_and_shows_the_log_when_a_dag_run_fails(
    demo, monkeypatch, tmp_path, capsys
):
    calls = _fake_airflow(demo, monkeypatch, dag_result=False)

    code = demo.main(["--home", str(tmp_path / "home"), "--dag", "moengage_load_then_announce"])

    out = capsys.readouterr().out
    assert code == 1
    assert calls == [("db", "migrate"), ("dags", "test", "moengage_load_then_announce")]
    assert "FAILED after" in out
    assert "pretend output of airflow dags test moengage_load_then_announce" in out  # the log's tail
    assert "FAILED: moengage_load_then_announce did not succeed" in out
    assert not _pid_alive(_sandbox_pid(out))


def test_demo_exits_non_zero_when_no_event_arrives(demo, monkeypatch, tmp_path, capsys):
    _fake_airflow(demo, monkeypatch, dag_result=True)  # "succeeds" without sending anything

    code = demo.main(["--home", str(tmp_path / "home"), "--dag", "moengage_asset_load_episodes"])

    out = capsys.readouterr().out
    assert code == 1
    assert "FAILED: no business event reached the sandbox." in out
    assert not _pid_alive(_sandbox_pid(out))


def test_demo_stops_the_sandbox_when_interrupted(demo, monkeypatch, tmp_path, capsys):
    _fake_airflow(demo, monkeypatch, dag_result=True, interrupt=True)

    code = demo.main(["--home", str(tmp_path / "home")])

    out = capsys.readouterr().out
    assert code == 130
    assert "Interrupted." in out
    assert not _pid_alive(_sandbox_pid(out))


def test_demo_never_wipes_a_folder_that_is_not_a_demo_home(demo, tmp_path, capsys):
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "keep.txt").write_text("mine")

    assert demo.main(["--home", str(precious)]) == 1
    assert (precious / "keep.txt").read_text() == "mine"
    assert "is not empty and not a demo home; not wiping it" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        demo.main(["--home", str(REPO)])


def test_each_attribute_is_shown_with_its_value_and_json_type(demo):
    event = {
        "event_name": "NewSeriesAlert",
        "triggered_by": "ops@example.com",
        "event_attributes": {
            "episodes": 12,
            "rating": 4.5,
            "season": "Season 2",
            "premiere": "2024-06-07",
            "at": "2024-06-07T10:00:00+00:00",
            "cast": ["Jane Doe", "John Roe"],
            "codes": [1, 2],
            "mixed": [1, "a"],
            "empty": [],
            "flag": True,
        },
    }

    text = demo.describe_event(event, 3)

    assert text.splitlines() == [
        "3. NewSeriesAlert   triggered_by: ops@example.com",
        "   episodes = 12 (int)",
        "   rating   = 4.5 (float)",
        '   season   = "Season 2" (string)',
        '   premiere = "2024-06-07" (string, an ISO date)',
        '   at       = "2024-06-07T10:00:00+00:00" (string, an ISO date)',
        '   cast     = ["Jane Doe", "John Roe"] (array of 2 strings)',
        "   codes    = [1, 2] (array of 2 ints)",
        '   mixed    = [1, "a"] (array of 2 items)',
        "   empty    = [] (array, empty)",
        "   flag     = true (bool)",
    ]
    assert "triggered_by: (not set)" in demo.describe_event({"event_name": "E", "event_attributes": {}}, 1)


# What the fake shared process does: DAG a sends one event, DAG b fails without sending.
FAKE_RUNNER = """
import json, sys
results, record = sys.argv[1], sys.argv[2]
def note(**fields):
    with open(results, "a") as fh:
        fh.write(json.dumps(fields) + "\\n")
note(phase="start", dag_id="moengage_asset_load_episodes", received=1)
with open(record, "a") as fh:
    fh.write(json.dumps({"event_name": "E", "event_attributes": {"n": 1}, "triggered_by": None}) + "\\n")
note(phase="end", dag_id="moengage_asset_load_episodes", state="success", received=2)
note(phase="start", dag_id="moengage_event_per_item", received=2)
note(phase="end", dag_id="moengage_event_per_item", state="failed", received=2)
sys.exit(1)
"""


def test_demo_reports_each_dag_of_the_shared_process_and_fails_when_one_fails(
    demo, monkeypatch, tmp_path, capsys
):
    def airflow(self, *args, check=True):
        if args[:2] == ("dags", "test"):  # the first DAG's (pretend) run sends one event
            with self.record_file.open("a") as fh:
                fh.write(json.dumps({"event_name": "First", "event_attributes": {}}) + "\n")
        return True

    def runner_command(self, dag_ids, results):
        return [sys.executable, "-c", FAKE_RUNNER, str(results), str(self.record_file)]

    monkeypatch.setattr(demo.Demo, "_airflow", airflow)

    monkeypatch.setattr(demo.Demo, "_runner_command", runner_command)
    args = ["--home", str(tmp_path / "home")]
    for dag_id in ("moengage_load_then_announce", "moengage_asset_load_episodes", "moengage_event_per_item"):
        args += ["--dag", dag_id]

    code = demo.main(args)

    out = capsys.readouterr().out
    assert code == 1
    assert "[4/7] dag.test() moengage_asset_load_episodes ..." in out
    assert "[5/7] dag.test() moengage_event_per_item ..." in out
    assert out.count("success in") == 2 and out.count("MoEngage received 1 event") == 2
    assert "FAILED after" in out
    # Each event is shown under the DAG that sent it.
    assert re.search(r"from moengage_load_then_announce \(success\):\n\s+1\. First ", out)
    assert re.search(r"from moengage_asset_load_episodes \(success\):\n\s+2\. E ", out)
    assert re.search(r"from moengage_event_per_item \(failed\):\n\s+\(nothing\)", out)
    assert "FAILED: moengage_event_per_item did not succeed" in out
    assert not _pid_alive(_sandbox_pid(out))


def test_the_shared_process_runs_each_dag_with_dag_test_and_notes_what_arrived(
    demo, sample_dags_folder, tmp_path, monkeypatch
):
    from moengage_provider.testing import MoEngageSandbox

    events = json.loads((REPO / "dags" / "data" / "moengage_events.json").read_text())["events"]
    record = tmp_path / "received.jsonl"
    results = tmp_path / "results.jsonl"
    catalog = tmp_path / "catalog.db"
    monkeypatch.setenv("AIRFLOW_CONN_CATALOG_DB", json.dumps({"conn_type": "sqlite", "host": str(catalog)}))
    with MoEngageSandbox("w", "k", permissive=False, events=events, record_file=record) as sandbox:
        monkeypatch.setenv("AIRFLOW_CONN_MOENGAGE_DEFAULT", sandbox.airflow_conn_json())
        code = demo.run_in_process(
            ["moengage_asset_load_episodes", "moengage_asset_announce_episodes"], results, record
        )

    assert code == 0
    notes = [json.loads(line) for line in results.read_text().splitlines()]
    assert [(n["phase"], n["dag_id"], n.get("state"), n["received"]) for n in notes] == [
        ("start", "moengage_asset_load_episodes", None, 0),
        ("end", "moengage_asset_load_episodes", "success", 0),
        ("start", "moengage_asset_announce_episodes", None, 0),
        ("end", "moengage_asset_announce_episodes", "success", 1),
    ]
    (line,) = record.read_text().splitlines()
    assert json.loads(line)["event_name"] == "NewEpisodesAvailable"


def test_the_closing_summary_says_what_each_sample_sent(demo):
    per_dag = [
        ("moengage_load_then_announce", "success", [{"event_name": "NewTitlesAdded"}]),
        ("moengage_asset_load_episodes", "success", []),
        ("moengage_event_per_item", "failed", [{"event_name": "BackInStock"}] * 2),
    ]

    assert demo.summary(per_dag).splitlines() == [
        "  moengage_load_then_announce   success  NewTitlesAdded",
        "  moengage_asset_load_episodes  success  no event",
        "  moengage_event_per_item       failed   2 x BackInStock",
    ]


def test_the_demo_runs_every_sample(demo):
    samples = sorted(path.stem for path in (REPO / "dags").glob("*.py"))
    assert sorted(dag_id for dag_id, _ in demo.DAGS) == samples

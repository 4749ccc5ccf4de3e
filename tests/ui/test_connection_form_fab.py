"""
The MoEngage connection form on Airflow 2's Flask AppBuilder UI: ``airflow webserver`` + headless
Debian Chromium. Airflow 2 builds the form from the hook's ``get_connection_form_widgets`` and
``get_ui_field_behaviour`` (moengage_provider.hooks.connection_form), not from provider info.

Screenshot: ``test-artifacts/moengage-connection-form-fab.png``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

from tests.conftest import AIRFLOW_3_PLUS, AIRFLOW_VERSION, REPO, airflow_env
from tests.ui.support import ARTIFACTS, free_port

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = pytest.mark.skipif(
    AIRFLOW_3_PLUS,
    reason=f"Flask AppBuilder's connection form is Airflow 2's UI; Airflow {AIRFLOW_VERSION} has the React UI",
)

#: Anonymous visitors are admins: no login page to script (loopback only, a throwaway home).
WEBSERVER_CONFIG = 'AUTH_ROLE_PUBLIC = "Admin"\nWTF_CSRF_ENABLED = False\n'


@pytest.fixture(scope="module")
def webserver(airflow_db: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``airflow webserver`` (gunicorn, one worker) on a free port of 127.0.0.1; yields its URL."""
    config = tmp_path_factory.mktemp("fab") / "webserver_config.py"
    config.write_text(WEBSERVER_CONFIG)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    ARTIFACTS.mkdir(exist_ok=True)
    log_path = ARTIFACTS / "webserver.log"
    env = airflow_env(
        AIRFLOW__WEBSERVER__CONFIG_FILE=str(config),
        AIRFLOW__WEBSERVER__WORKERS="1",
        # No Fernet key, as in this test process, so the test reads back what the form stored.
        AIRFLOW__CORE__FERNET_KEY="",
    )
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "airflow", "webserver", "--hostname", "127.0.0.1", "--port", str(port)],
            env=env,
            cwd=REPO,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: gunicorn's workers stop with it
        )
    try:
        deadline = time.monotonic() + 180
        while True:
            if process.poll() is not None:
                raise RuntimeError(
                    f"airflow webserver exited {process.returncode}: {log_path.read_text()[-3000:]}"
                )
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=2) as answer:
                    if answer.status == 200:
                        break
            except (OSError, urllib.error.URLError):
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"airflow webserver not healthy after 180 s: {log_path.read_text()[-3000:]}"
                )
            time.sleep(0.5)
        yield url
    finally:
        for sig, wait in ((signal.SIGTERM, 20), (signal.SIGKILL, 5)):
            try:
                os.killpg(process.pid, sig)
                process.wait(timeout=wait)
                break
            except ProcessLookupError:
                break
            except subprocess.TimeoutExpired:
                continue


def test_fab_form_relabels_hides_and_stores_the_moengage_fields(webserver: str, page: Page) -> None:
    from playwright.sync_api import expect

    conn_id = f"moengage_fab_{uuid.uuid4().hex[:8]}"
    page.goto(f"{webserver}/connection/add")
    # conn_type is a Select2 box over a plain <select>; choose through the select, as Select2 does.
    page.evaluate("() => { $('#conn_type').val('moengage').trigger('change'); }")

    expect(page.locator("label[for=login]")).to_have_text("Workspace ID")
    expect(page.locator("label[for=password]")).to_have_text("API Key")
    expect(page.locator("label[for=host]")).to_have_text("Base URL override")
    for hidden in ("port", "schema", "extra"):
        expect(page.locator(f"#{hidden}")).to_be_hidden()
    data_center = page.locator("#extra__moengage__data_center")
    expect(data_center).to_be_visible()
    expect(page.locator("label[for=extra__moengage__data_center]")).to_have_text("Data center")
    expect(page.locator("#extra__moengage__timeout")).to_be_visible()
    api_version = page.locator("#extra__moengage__api_version")
    expect(api_version).to_be_visible()
    expect(page.locator("label[for=extra__moengage__api_version]")).to_have_text("API version")
    expect(api_version).to_have_value("api-v1.0")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "moengage-connection-form-fab.png"), full_page=True)

    page.fill("#conn_id", conn_id)
    page.fill("#login", "fab-workspace")
    page.fill("#password", "fab-key")
    data_center.fill("02")
    api_version.fill("V5")  # as a user types it
    with page.expect_navigation():
        page.locator("input[type=submit][value=Save], button[type=submit]").first.click()
    expect(page.get_by_text("Added Row")).to_be_visible()

    stored = _stored(conn_id)
    assert stored is not None, "the form did not save the connection"
    conn_type, login, extra = stored
    assert (conn_type, login) == ("moengage", "fab-workspace")
    assert extra.get("data_center") == "02"
    assert extra.get("api_version") == "V5"  # the hook reads it as v5


def _stored(conn_id: str) -> tuple[str, str, dict[str, Any]] | None:
    """What the form saved, read from the metadata DB (Airflow 2 has the ORM in-process)."""
    from airflow.models.connection import Connection
    from airflow.utils.session import create_session

    with create_session() as session:
        conn = session.query(Connection).filter_by(conn_id=conn_id).one_or_none()
        return None if conn is None else (conn.conn_type, conn.login, conn.extra_dejson)


@pytest.mark.parametrize(
    ("data_center", "api_version"),
    [("07", "api-v5"), ("DC-01", "v4")],
    ids=["data-center-07", "api-version-v4"],
)
def test_fab_form_refuses_a_data_center_or_api_version_that_does_not_exist(
    webserver: str, page: Page, data_center: str, api_version: str
) -> None:
    """Each field alone is refused: the form comes back with what was typed, and nothing is stored.
    (Airflow 2.11's form does not render an extra field's error text, so the refusal is what we read.)"""
    from playwright.sync_api import expect

    conn_id = f"moengage_fab_{uuid.uuid4().hex[:8]}"
    page.goto(f"{webserver}/connection/add")
    page.evaluate("() => { $('#conn_type').val('moengage').trigger('change'); }")
    page.fill("#conn_id", conn_id)
    page.fill("#extra__moengage__data_center", data_center)
    page.fill("#extra__moengage__api_version", api_version)
    with page.expect_navigation():
        page.locator("input[type=submit][value=Save], button[type=submit]").first.click()
    expect(page).to_have_url(f"{webserver}/connection/add")  # the form again: the field was refused
    expect(page.locator("#extra__moengage__data_center")).to_have_value(data_center)
    expect(page.locator("#extra__moengage__api_version")).to_have_value(api_version)
    assert _stored(conn_id) is None

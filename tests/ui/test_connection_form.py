"""
The MoEngage connection form as a person sees it: ``airflow api-server`` + headless Debian Chromium.

Screenshots go to ``test-artifacts/`` (moengage-connection-form.png, moengage-connection-data-center.png,
moengage-connection-test.png).
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

import moengage_provider
from moengage_provider.data_centers import DATA_CENTERS
from moengage_provider.testing import MoEngageSandbox
from tests.ui.support import ARTIFACTS, ApiServer

if TYPE_CHECKING:
    from playwright.sync_api import Locator, Page

SEARCH_PATH = "/v1.0/business_event/search"
WORKSPACE = "ui-workspace"
DATA_CENTER_SECTION = "MoEngage data center & timeout"

#: Standard field -> the label the MoEngage form shows for it.
STANDARD_LABELS = {"login": "Workspace ID", "password": "API Key", "host": "Base URL override"}
#: Airflow's generic labels that the MoEngage form must not show (hidden or relabelled).
GENERIC_FIELDS = ("Host", "Schema", "Login", "Password", "Port")


def _conn_type() -> dict[str, Any]:
    (conn_type,) = moengage_provider.get_provider_info()["connection-types"]
    return conn_type


def _values_display() -> dict[str, str]:
    return _conn_type()["conn-fields"]["data_center"]["schema"]["values_display"]


@pytest.fixture(scope="module")
def ui_sandbox() -> Iterator[MoEngageSandbox]:
    """The MoEngage API the api-server's Test button talks to (same machine, loopback)."""
    with MoEngageSandbox(WORKSPACE, f"ui-key-{secrets.token_hex(6)}") as sandbox:
        yield sandbox


@pytest.fixture
def sandbox(ui_sandbox: MoEngageSandbox) -> MoEngageSandbox:
    ui_sandbox.reset()
    return ui_sandbox


def open_add_connection_form(page: Page, server: ApiServer, conn_id: str) -> Locator:
    """Connections page > Add Connection > ID and type MoEngage; returns the dialog."""
    page.goto(f"{server.url}/connections")
    page.get_by_role("button", name="Add Connection").click()
    dialog = page.get_by_role("dialog")
    dialog.locator("input[name=connection_id]").fill(conn_id)
    dialog.get_by_role("combobox").first.fill("MoEngage")
    page.get_by_role("option", name="MoEngage", exact=True).click()
    dialog.get_by_label("Workspace ID", exact=True).wait_for()
    return dialog


def open_section(dialog: Locator, title: str) -> None:
    trigger = dialog.get_by_role("button", name=title, exact=True)
    if trigger.get_attribute("aria-expanded") != "true":
        trigger.click()


def choose_data_center(page: Page, dialog: Locator, label: str) -> None:
    open_section(dialog, DATA_CENTER_SECTION)
    dialog.get_by_role("combobox").nth(1).click()  # 0 is the connection type
    page.get_by_role("option", name=label, exact=True).click()


def connection_row(page: Page, conn_id: str) -> Locator:
    return page.get_by_role("row").filter(has=page.get_by_role("cell", name=conn_id, exact=True))


def toast(page: Page, title: str) -> Locator:
    """The toast whose title is ``title`` (the UI shows the hook's message as its description)."""
    return page.locator("[data-scope=toast][data-part=root]").filter(has_text=title)


def test_every_data_center_has_a_region_label():
    labels = _values_display()
    assert _conn_type()["conn-fields"]["data_center"]["schema"]["enum"] == list(DATA_CENTERS)
    assert list(labels) == list(DATA_CENTERS)
    for code, region in DATA_CENTERS.items():
        assert labels[code].startswith(f"{code} "), labels[code]
        assert f"dashboard-{code}" in labels[code]
        if code != "101":  # MoEngage publishes no region for 101
            assert region in labels[code]


def test_add_connection_form_shows_moengage_fields(page: Page, api_server: ApiServer):
    from playwright.sync_api import expect

    ARTIFACTS.mkdir(exist_ok=True)
    dialog = open_add_connection_form(page, api_server, "moengage_form_look")

    # Standard fields: MoEngage's names, each with its guidance; the irrelevant ones are gone.
    placeholders = _conn_type()["ui-field-behaviour"]["placeholders"]
    for name, label in STANDARD_LABELS.items():
        field = dialog.get_by_label(label, exact=True)
        expect(field).to_be_visible()
        expect(field).to_have_attribute("placeholder", placeholders[name])
        expect(field).to_have_value("")
    expect(dialog.get_by_label("API Key", exact=True)).to_have_attribute("type", "password")
    for generic in GENERIC_FIELDS:
        expect(dialog.get_by_label(generic, exact=True)).to_have_count(0)
    dialog.screenshot(path=str(ARTIFACTS / "moengage-connection-form.png"))

    # The data center is a choice, with regions, and a hint; the timeout has its default.
    open_section(dialog, DATA_CENTER_SECTION)
    expect(dialog.get_by_text("Data center", exact=True)).to_be_visible()
    expect(
        dialog.get_by_text("the number in your dashboard URL (dashboard-02.moengage.com is 02)")
    ).to_be_visible()
    expect(dialog.get_by_label("Request timeout (seconds)")).to_have_value("30")
    dialog.get_by_role("combobox").nth(1).click()
    expect(page.get_by_role("option")).to_have_text(list(_values_display().values()))
    dialog.screenshot(path=str(ARTIFACTS / "moengage-connection-data-center.png"))
    page.get_by_role("option", name=_values_display()["02"], exact=True).click()

    # What gets stored is the bare code, in the extra JSON the hook reads.
    open_section(dialog, "Extra Fields JSON")
    editor_text = dialog.locator(".view-lines").inner_text().replace("\u00a0", " ")
    assert json.loads(editor_text) == {"data_center": "02", "timeout": 30}


def test_form_saves_what_the_hook_reads(page: Page, api_server: ApiServer, sandbox: MoEngageSandbox):
    conn_id = f"moengage_form_{secrets.token_hex(3)}"
    dialog = open_add_connection_form(page, api_server, conn_id)
    dialog.get_by_label("Workspace ID", exact=True).fill(WORKSPACE)
    dialog.get_by_label("API Key", exact=True).fill(sandbox.api_key)
    dialog.get_by_label("Base URL override", exact=True).fill(sandbox.url)
    choose_data_center(page, dialog, _values_display()["01"])
    dialog.get_by_role("button", name="Save").click()
    dialog.wait_for(state="hidden")
    connection_row(page, conn_id).wait_for()

    stored = api_server.api("GET", f"/api/v2/connections/{conn_id}")
    assert stored["conn_type"] == "moengage"
    assert stored["login"] == WORKSPACE
    assert stored["host"] == sandbox.url
    assert stored["port"] is None and stored["schema"] in (None, "")
    assert json.loads(stored["extra"]) == {"data_center": "01", "timeout": 30}

    # On Airflow 3.3.2 the list's Test button cannot test a port-less connection (see the xfail below), so
    # call the endpoint it calls, with the credentials the form holds; the hook runs in the api-server.
    answer = api_server.api(
        "POST",
        "/api/v2/connections/test",
        {
            "connection_id": conn_id,
            "conn_type": "moengage",
            "host": sandbox.url,
            "login": WORKSPACE,
            "password": sandbox.api_key,
            "extra": stored["extra"],
        },
    )
    assert answer == {
        "status": True,
        "message": f"Connected to MoEngage workspace {WORKSPACE} at {sandbox.url}: credentials accepted.",
    }
    assert [(r["method"], r["path"]) for r in sandbox.requests] == [("POST", SEARCH_PATH)]
    assert sandbox.triggers == []


def _create_connection(server: ApiServer, conn_id: str, sandbox: MoEngageSandbox, **overrides: Any) -> None:
    """A stored MoEngage connection to the sandbox, with host, port and schema as the sandbox prints them."""
    conn = json.loads(sandbox.airflow_conn_json())
    conn.pop("conn_type")
    server.api(
        "POST",
        "/api/v2/connections",
        {
            "connection_id": conn_id,
            "conn_type": "moengage",
            **conn,
            "extra": json.dumps({"data_center": "01"}),
            **overrides,
        },
    )


def test_test_button_tells_success_wrong_key_and_wrong_workspace(
    page: Page, api_server: ApiServer, sandbox: MoEngageSandbox
):
    suffix = secrets.token_hex(3)
    good, bad_key, bad_workspace = (f"moengage_{name}_{suffix}" for name in ("good", "bad_key", "bad_ws"))
    _create_connection(api_server, good, sandbox)
    _create_connection(api_server, bad_key, sandbox, password="not-the-key")
    _create_connection(api_server, bad_workspace, sandbox, login="nobody-workspace")
    page.goto(f"{api_server.url}/connections")

    # The UI shows the hook's message as the toast's text, for 2 s: wait for each as soon as it is clicked.
    expected = {
        bad_key: ("Test Connection Failed", f"MoEngage rejected the API Key for workspace {WORKSPACE}"),
        bad_workspace: ("Test Connection Failed", "MoEngage does not know workspace 'nobody-workspace'"),
        good: (
            "Test Connection Successful",
            f"Connected to MoEngage workspace {WORKSPACE} at {sandbox.url}: credentials accepted.",
        ),
    }
    messages = {}
    for conn_id, (title, text) in expected.items():
        connection_row(page, conn_id).get_by_role("button", name="Test Connection").click()
        shown = toast(page, title).filter(has_text=text)
        shown.wait_for()
        messages[conn_id] = " ".join(shown.inner_text().split())
    shown.hover()  # pauses the toasts (they close after 2 s) for the screenshot, once they have slid in
    page.wait_for_timeout(500)
    page.screenshot(path=str(ARTIFACTS / "moengage-connection-test.png"))
    assert "not the Data API key" in messages[bad_key]
    assert "data center matches your dashboard URL" in messages[bad_workspace]

    assert [(r["method"], r["path"]) for r in sandbox.requests] == [("POST", SEARCH_PATH)] * 3
    assert sandbox.triggers == []


@pytest.mark.xfail(
    raises=AssertionError,
    strict=True,
    reason="Airflow 3.3.2's connections list sends port 0 for a connection without a port and the API "
    "answers 400 'host or port to test differs' (apache/airflow#73298); MoEngage connections have none. "
    "When this passes, the Airflow in use has the fix: drop this marker and the note in docs/connection.md.",
)
def test_test_button_on_a_connection_without_port(
    page: Page, api_server: ApiServer, sandbox: MoEngageSandbox
):
    conn_id = f"moengage_portless_{secrets.token_hex(3)}"
    _create_connection(api_server, conn_id, sandbox, host=sandbox.url, port=None, schema=None)
    page.goto(f"{api_server.url}/connections")
    connection_row(page, conn_id).get_by_role("button", name="Test Connection").click()
    shown = page.locator("[data-scope=toast][data-part=root]").first
    shown.wait_for()
    message = " ".join(shown.inner_text().split())
    if "Test Connection Successful" not in message:
        if "Test Connection Failed Bad Request" not in message:  # the UI shows the 400 as just this
            pytest.fail(f"the Test button failed for another reason than Airflow's port bug: {message}")
        raise AssertionError(message)
    assert f"Connected to MoEngage workspace {WORKSPACE} at {sandbox.url}" in message

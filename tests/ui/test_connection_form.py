"""
The MoEngage connection form as a person sees it: ``airflow api-server`` + headless Debian Chromium.

Screenshots go to ``test-artifacts/`` (moengage-connection-form.png, moengage-connection-data-center.png,
moengage-connection-test.png).
"""

from __future__ import annotations

import contextlib
import json
import re
import secrets
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

import moengage_provider
from moengage_provider.api.data_centers import DATA_CENTERS, normalize_data_center
from moengage_provider.api.versions import api_version
from moengage_provider.testing import MoEngageSandbox
from tests.ui.support import ARTIFACTS, ApiServer

if TYPE_CHECKING:
    from playwright.sync_api import Locator, Page

SEARCH_PATH = "/v1.0/business_event/search"
V5_LIST_PATH = "/v5/business-events?name=airflow-connection-test&limit=20"
WORKSPACE = "ui-workspace"

# The api-server starts in the first test's set-up; a loaded machine can take minutes for that.
pytestmark = pytest.mark.timeout(900)

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
    dialog.get_by_role("combobox").nth(1).click()  # 0 is the connection type
    page.get_by_role("option", name=label, exact=True).click()


#: True once the editor's rendered text is JSON equal to the expected value (keys in any order). The editor
#: fills in after its section opens, so a read right after the click can see "{" or nothing.
_EDITOR_HOLDS = """([lines, expected]) => {
    const canonical = (v) => JSON.stringify(v, (k, x) =>
        x && typeof x === "object" && !Array.isArray(x)
            ? Object.fromEntries(Object.keys(x).sort().map((key) => [key, x[key]])) : x);
    try {
        return canonical(JSON.parse(lines.innerText.replace(/\\u00a0/g, " "))) === canonical(expected);
    } catch (e) {
        return false;
    }
}"""


def expect_editor_json(
    page: Page, dialog: Locator, expected: dict[str, Any], timeout_ms: float = 20_000
) -> None:
    """Wait until the Extra Fields JSON editor shows ``expected``; on timeout, fail with what it shows."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    lines = dialog.locator(".view-lines")
    lines.wait_for()
    try:
        page.wait_for_function(_EDITOR_HOLDS, arg=[lines.element_handle(), expected], timeout=timeout_ms)
    except PlaywrightTimeout:
        shown = lines.inner_text().replace("\u00a0", " ")
        pytest.fail(
            f"the Extra Fields JSON editor did not show {expected} within {timeout_ms / 1000:g} s; it shows: {shown!r}"
        )


#: Installed before the page loads: every toast's text, as it appears or changes, in window.__toasts.
RECORD_TOASTS = """
window.__toasts = [];
new MutationObserver(() => {
    for (const el of document.querySelectorAll("[data-scope=toast][data-part=root]")) {
        const text = (el.innerText || el.textContent).split(/\\s+/).join(" ").trim();
        if (text && !window.__toasts.includes(text)) window.__toasts.push(text);
    }
}).observe(document, {childList: true, subtree: true, characterData: true});
"""


def expect_toast(page: Page, parts: tuple[str, ...], timeout_ms: float = 30_000) -> None:
    """Wait until one toast recorded by RECORD_TOASTS contains every part; fail with what was shown."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        page.wait_for_function(
            "(parts) => (window.__toasts || []).some((t) => parts.every((p) => t.includes(p)))",
            arg=list(parts),
            timeout=timeout_ms,
        )
    except PlaywrightTimeout:
        shown = page.evaluate("window.__toasts || []")
        pytest.fail(f"no toast showed {parts} within {timeout_ms / 1000:g} s; toasts shown: {shown}")


def connection_row(page: Page, conn_id: str) -> Locator:
    return page.get_by_role("row").filter(has=page.get_by_role("cell", name=conn_id, exact=True))


def toast(page: Page, title: str) -> Locator:
    """The toast whose title is ``title`` (the UI shows the hook's message as its description)."""
    return page.locator("[data-scope=toast][data-part=root]").filter(has_text=title)


def test_every_data_center_has_a_region_label():
    labels = _values_display()
    stored = _conn_type()["conn-fields"]["data_center"]["schema"]["enum"]
    assert list(labels) == stored
    # Each choice is one data center, all of them, in order; what is stored is what the hook reads.
    assert [normalize_data_center(value) for value in stored] == list(DATA_CENTERS)
    for value in stored:
        # At least 5 characters: Airflow's secret masker warns about any shorter string in an extra.
        assert len(value) >= 5, value
        code = normalize_data_center(value)
        assert labels[value].startswith(f"{code} "), labels[value]
        assert f"dashboard-{code}" in labels[value]
        if code != "101":  # MoEngage publishes no region for 101
            assert DATA_CENTERS[code] in labels[value]


def test_every_api_version_choice_is_one_the_hook_reads():
    field = _conn_type()["conn-fields"]["api_version"]
    stored = field["schema"]["enum"]
    assert list(field["schema"]["values_display"]) == stored
    assert [api_version(value).name for value in stored] == ["v1.0", "v5"]
    assert api_version(field["schema"]["default"]).name == "v1.0"  # the default: what every key works with
    for value in stored:
        assert len(value) >= 5, value  # Airflow's secret masker warns about any shorter string in an extra
        assert field["schema"]["values_display"][value].startswith(api_version(value).name + " ")


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

    # The data center is in view with the fields a user fills in (no section to find and open): a choice,
    # with regions, and a hint; the timeout has its default.
    expect(dialog.get_by_text("Data center", exact=True)).to_be_visible()
    expect(
        dialog.get_by_text("the number in your dashboard URL (dashboard-02.moengage.com is DC-02)")
    ).to_be_visible()
    expect(dialog.get_by_label("Request timeout (seconds)")).to_have_value("30")
    dialog.get_by_role("combobox").nth(1).click()
    expect(page.get_by_role("option")).to_have_text(list(_values_display().values()))
    dialog.screenshot(path=str(ARTIFACTS / "moengage-connection-data-center.png"))
    page.get_by_role("option", name=_values_display()["DC-02"], exact=True).click()

    # The API version is a choice too, the legacy API unless the user picks V5.
    expect(dialog.get_by_text("API version", exact=True)).to_be_visible()
    api_choices = _conn_type()["conn-fields"]["api_version"]["schema"]["values_display"]
    dialog.get_by_role("combobox").nth(2).click()
    expect(page.get_by_role("option")).to_have_text(list(api_choices.values()))
    page.get_by_role("option", name=api_choices["api-v1.0"], exact=True).click()

    # What gets stored is MoEngage's name of the data center, in the extra JSON the hook reads.
    open_section(dialog, "Extra Fields JSON")
    expect_editor_json(page, dialog, {"data_center": "DC-02", "api_version": "api-v1.0", "timeout": 30})


def test_form_saves_what_the_hook_reads(page: Page, api_server: ApiServer, sandbox: MoEngageSandbox):
    conn_id = f"moengage_form_{secrets.token_hex(3)}"
    dialog = open_add_connection_form(page, api_server, conn_id)
    dialog.get_by_label("Workspace ID", exact=True).fill(WORKSPACE)
    dialog.get_by_label("API Key", exact=True).fill(sandbox.api_key)
    dialog.get_by_label("Base URL override", exact=True).fill(sandbox.url)
    choose_data_center(page, dialog, _values_display()["DC-01"])
    dialog.get_by_role("combobox").nth(2).click()  # the API version: V5
    v5_label = _conn_type()["conn-fields"]["api_version"]["schema"]["values_display"]["api-v5"]
    page.get_by_role("option", name=v5_label, exact=True).click()
    dialog.get_by_role("button", name="Save").click()
    dialog.wait_for(state="hidden")
    connection_row(page, conn_id).wait_for()

    stored = api_server.api("GET", f"/api/v2/connections/{conn_id}")
    assert stored["conn_type"] == "moengage"
    assert stored["login"] == WORKSPACE
    assert stored["host"] == sandbox.url
    assert stored["port"] is None and stored["schema"] in (None, "")
    assert json.loads(stored["extra"]) == {"data_center": "DC-01", "api_version": "api-v5", "timeout": 30}

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
        "message": f"Connected to MoEngage workspace {WORKSPACE} at {sandbox.url} through MoEngage's "
        "Business Events API V5: credentials accepted.",
    }  # read-only, through the API the form chose
    assert [(r["method"], r["path"]) for r in sandbox.requests] == [("GET", V5_LIST_PATH)]
    assert sandbox.triggers == []


def test_a_connection_saved_without_data_center_or_host_fails_its_test_with_the_fix(
    page: Page, api_server: ApiServer, sandbox: MoEngageSandbox
):
    conn_id = f"moengage_nowhere_{secrets.token_hex(3)}"
    dialog = open_add_connection_form(page, api_server, conn_id)
    dialog.get_by_label("Workspace ID", exact=True).fill(WORKSPACE)
    dialog.get_by_label("API Key", exact=True).fill(sandbox.api_key)
    dialog.get_by_role("button", name="Save").click()  # the form lets it through: nothing is required
    dialog.wait_for(state="hidden")
    connection_row(page, conn_id).wait_for()
    stored = api_server.api("GET", f"/api/v2/connections/{conn_id}")
    assert not stored["host"] and not json.loads(stored["extra"] or "{}").get("data_center")

    # What the Test button asks the api-server (the button itself cannot on 3.3.2: see the xfail below).
    answer = api_server.api(
        "POST",
        "/api/v2/connections/test",
        {
            "connection_id": conn_id,
            "conn_type": "moengage",
            "login": WORKSPACE,
            "password": sandbox.api_key,
            "extra": stored["extra"],
        },
    )
    assert answer["status"] is False
    # (The api-server tests a copy of the connection under a random ID, which the message names.)
    assert re.match(
        r"MoEngage connection '[^']+': set the data center \(extra 'data_center'", answer["message"]
    )
    assert "or a host (for a proxy or the local sandbox)" in answer["message"]
    assert sandbox.api_key not in answer["message"]
    assert sandbox.requests == []  # caught before anything is sent


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
            "extra": json.dumps({"data_center": "DC-01"}),
            **overrides,
        },
    )


def test_test_button_tells_success_wrong_key_and_wrong_workspace(
    page: Page, api_server: ApiServer, sandbox: MoEngageSandbox
):
    from playwright.sync_api import expect

    suffix = secrets.token_hex(3)
    good, bad_key, bad_workspace = (f"moengage_{name}_{suffix}" for name in ("good", "bad_key", "bad_ws"))
    _create_connection(api_server, good, sandbox)
    _create_connection(api_server, bad_key, sandbox, password="not-the-key")
    _create_connection(api_server, bad_workspace, sandbox, login="nobody-workspace")
    page.add_init_script(RECORD_TOASTS)
    page.goto(f"{api_server.url}/connections")

    # The UI shows the hook's message as a toast that closes after 2 s, which a loaded machine can miss
    # entirely: the page records every toast's text as it appears, and the test waits for the record.
    expected = {
        bad_key: (
            "Test Connection Failed",
            f"MoEngage rejected the API Key for workspace {WORKSPACE}",
            "not the Data API key",
        ),
        bad_workspace: (
            "Test Connection Failed",
            "MoEngage does not know workspace 'nobody-workspace'",
            "data center matches your dashboard URL",
        ),
        good: (
            "Test Connection Successful",
            f"Connected to MoEngage workspace {WORKSPACE} at {sandbox.url}: credentials accepted.",
        ),
    }
    tooltips = page.locator("[data-scope=tooltip][data-part=content][data-state=open]")
    for conn_id, parts in expected.items():
        connection_row(page, conn_id).get_by_role("button", name="Test Connection").click()
        expect_toast(page, parts)
        # The button's tooltip stays open under the pointer and covers the next row's button; the
        # click also leaves the button focused, which kept it open on a loaded machine.
        page.mouse.move(0, 0)
        page.evaluate("() => document.activeElement instanceof HTMLElement && document.activeElement.blur()")
        expect(tooltips).to_have_count(0)
    # The screenshot is an artifact, not an assertion: the last toast, paused by hovering, if still there.
    from playwright.sync_api import Error as PlaywrightError

    last = toast(page, expected[good][0])
    with contextlib.suppress(PlaywrightError):
        last.hover(timeout=2_000)
        last.evaluate("el => Promise.all(el.getAnimations({subtree: true}).map((a) => a.finished))")
    page.screenshot(path=str(ARTIFACTS / "moengage-connection-test.png"))

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
    page.add_init_script(RECORD_TOASTS)
    page.goto(f"{api_server.url}/connections")
    connection_row(page, conn_id).get_by_role("button", name="Test Connection").click()
    expect_toast(page, ("Test Connection",))
    message = page.evaluate("window.__toasts[0]")
    if "Test Connection Successful" not in message:
        if "Test Connection Failed Bad Request" not in message:  # the UI shows the 400 as just this
            pytest.fail(f"the Test button failed for another reason than Airflow's port bug: {message}")
        raise AssertionError(message)
    assert f"Connected to MoEngage workspace {WORKSPACE} at {sandbox.url}" in message

"""Fixtures for the browser tests: Debian's Chromium driven by Playwright, a real api-server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.conftest import AIRFLOW_3_2_PLUS, AIRFLOW_VERSION
from tests.ui.support import ARTIFACTS, CHROMIUM_ARGS, INSTALL_HINT, ApiServer, find_chromium, unavailable

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under pytest-xdist, a module's tests run on one worker: its api-server, webserver or CLI runs
    (module and session fixtures) start once."""
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.xdist_group(f"ui-{Path(str(item.fspath)).stem}"))


@pytest.fixture(scope="session")
def chromium_path() -> str:
    path = find_chromium()
    if path is None:
        unavailable(f"Debian's chromium is not installed: {INSTALL_HINT}")
    return path


@pytest.fixture(scope="session")
def browser(chromium_path: str) -> Iterator[Browser]:
    """Headless Debian Chromium; Playwright's own browser downloads are never used."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("the 'playwright' Python package is not installed in the venv (uv sync --group dev)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium_path, headless=True, args=CHROMIUM_ARGS, chromium_sandbox=False
        )
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="session")
def api_server(airflow_db: Any) -> Iterator[ApiServer]:
    """``airflow api-server`` on a free port of 127.0.0.1, with this session's Airflow home and DB."""
    if not AIRFLOW_3_2_PLUS:
        pytest.skip(
            "Airflow reads the MoEngage connection form from provider info (conn-fields, "
            f"ui-field-behaviour) from 3.2 on; Airflow {AIRFLOW_VERSION} shows its generic form, and its "
            "REST API wants a token even with simple_auth_manager_all_admins"
        )
    server = ApiServer(ARTIFACTS / "api-server.log").start()
    try:
        yield server
    finally:
        server.stop()


_CALL_FAILED = pytest.StashKey[bool]()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):
    report = yield
    if report.when == "call":
        item.stash[_CALL_FAILED] = report.failed
    return report


@pytest.fixture
def page(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Page]:
    """A fresh browser context per test; on failure, a screenshot of the page goes to test-artifacts/."""
    context = browser.new_context(viewport={"width": 1280, "height": 1000}, locale="en-US")
    context.set_default_timeout(20_000)
    # expect() has its own deadline (5 s by default): a loaded machine's webserver takes longer to answer
    # a form's POST, so assertions get the same bound as actions.
    from playwright.sync_api import expect

    expect.set_options(timeout=20_000)
    page = context.new_page()
    try:
        yield page
        if request.node.stash.get(_CALL_FAILED, False):
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / f"failed-{request.node.name}.png"), full_page=True)
    finally:
        context.close()

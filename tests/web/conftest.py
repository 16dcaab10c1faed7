"""Fixtures: a workspace with people in it, the real web workspace in a subprocess, and a real
Chromium (Playwright) to drive it."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from claims import api
from claims.web.testing import running_web
from portals.browser import launch_options

PASSWORD = "correct horse battery"
PEOPLE = {"amira": "specialist", "olga": "auditor"}


def add_people(ws: api.Workspace) -> None:
    """A specialist and an auditor, both with :data:`PASSWORD`."""
    for name, role in PEOPLE.items():
        api.add_user(ws, name, role=role, password=PASSWORD)


@pytest.fixture(scope="module")
def chromium() -> Iterator[object]:
    """One headless Chromium for the module."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(**launch_options())
        yield browser
        browser.close()


@pytest.fixture
def serve():
    """``with serve(ws) as url``: the web workspace of ``ws`` on a free port."""
    return lambda ws: running_web(ws.root)


def follow(locator, *, timeout: float | None = None) -> None:
    """Click what leads to another page and wait until that page has loaded.

    Playwright's ``click`` returns once the click is dispatched, not when the page it leads to
    has loaded; an assertion straight after it could read the old page. Every click in these
    tests that leaves the page goes through here.
    """
    with locator.page.expect_navigation(timeout=timeout):
        locator.click(timeout=timeout)


def sign_in(page, url: str, name: str, password: str = PASSWORD) -> None:
    """Sign in through the form, as a person does."""
    page.goto(url + "/login")
    page.get_by_label("Name").fill(name)
    page.get_by_label("Password").fill(password)
    follow(page.get_by_role("button", name="Sign in"))


def csrf_of(page) -> str:
    """The CSRF token of the page the browser shows."""
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.content())
    assert found, "no CSRF token on the page"
    return found.group(1)

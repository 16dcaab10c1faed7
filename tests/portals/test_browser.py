"""The browser finder: explicit path, then Playwright's, then the system's."""

from pathlib import Path

import pytest

from portals import browser


def test_an_explicit_path_that_does_not_exist_is_a_clear_error(tmp_path: Path) -> None:
    missing = tmp_path / "no-chromium"
    with pytest.raises(browser.BrowserNotFound, match="does not exist"):
        browser.find_chromium(missing)


def test_launch_options_carry_the_sandbox_flags_for_a_system_browser(monkeypatch) -> None:
    monkeypatch.setattr(browser, "playwright_chromium", lambda: None)
    system = browser.system_chromium()
    if system is None:
        pytest.fail("make test installs a Chromium first; none is on PATH")
    options = browser.launch_options()
    assert options["executable_path"] == str(system)
    assert "--no-sandbox" in options["args"] and options["headless"] is True


def test_a_real_chromium_launches_headless_and_renders_a_page() -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(**browser.launch_options())
        page = b.new_page()
        page.set_content("<h1>Claimwright</h1>")
        assert page.get_by_role("heading").inner_text() == "Claimwright"
        b.close()


def test_an_explicit_path_that_is_no_program_is_a_clear_error(tmp_path: Path) -> None:
    """A folder or a plain file as browser.executable was taken as the browser."""
    text = tmp_path / "chromium.txt"
    text.write_text("not a program", encoding="utf-8")
    for path in (tmp_path, text):
        with pytest.raises(browser.BrowserNotFound, match="is not an executable file"):
            browser.find_chromium(path)

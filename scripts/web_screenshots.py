"""``make screenshots``: a PNG of each page of the web workspace into ``docs/web/``.

Makes a sample workspace in a temporary folder (the sample contract, invoices and claims, one
built, a note in Arabic), serves it with ``python -m claims.web`` and photographs every page in
headless Chromium at 1280×800 (and the board at phone width).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from playwright.sync_api import sync_playwright  # noqa: E402

from claims import api  # noqa: E402
from claims.web.testing import running_web  # noqa: E402
from portals.browser import launch_options  # noqa: E402

OUT = ROOT / "docs" / "web"
PASSWORD = "screenshots only"


def make_workspace(folder: Path) -> api.Workspace:
    """A sample workspace with a specialist and an auditor, claim 1 built."""
    ws, _ = api.init_workspace(folder / "ws", with_samples=True)
    for name, role in (("amira", "specialist"), ("olga", "auditor"), ("ada", "admin")):
        api.add_user(ws, name, role=role, password=PASSWORD)
    as_amira = api.acting_as(ws, "amira")
    api.build_claim(as_amira, 1)
    customer = api.get_invoice(ws, api.get_claim(ws, 1).invoice_number).customer
    api.add_note(as_amira, customer, "اتصلت بقسم الحسابات: الموافقة متوقعة الأسبوع القادم",
                 kind="call")
    api.open_dispute(as_amira, invoice=api.get_claim(ws, 1).invoice_number, claim_id=None,
                     reason="pricing", team="Sales", due_date=None, note="")
    api.seal_evidence(as_amira)
    return ws


def shoot(url: str, customer: str) -> list[Path]:
    """Sign in and photograph each page; returns the files written."""
    OUT.mkdir(parents=True, exist_ok=True)
    pages = [("board", "/"), ("claim", "/claims/1"), ("confirm-submit", "/claims/1/submit"),
             ("worklist", "/worklist"), ("customer", f"/customers/{customer}"),
             ("payments", "/payments"), ("kpis", "/kpis"), ("evidence", "/evidence")]
    written = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(**launch_options())
        for who, views in (("amira", pages), ("olga", [("auditor-claim", "/claims/1")]),
                           ("ada", [("people", "/people")])):
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            page.goto(url + "/login")
            if who == "amira":
                page.screenshot(path=str(OUT / "login.png"))
                written.append(OUT / "login.png")
            page.get_by_label("Name").fill(who)
            page.get_by_label("Password").fill(PASSWORD)
            page.get_by_role("button", name="Sign in").click()
            for name, path in views:
                page.goto(url + path)
                page.screenshot(path=str(OUT / f"{name}.png"), full_page=True)
                written.append(OUT / f"{name}.png")
            if who == "amira":
                page.set_viewport_size({"width": 390, "height": 844})
                page.goto(url + "/")
                page.screenshot(path=str(OUT / "board-phone.png"), full_page=True)
                written.append(OUT / "board-phone.png")
            page.close()
        browser.close()
    return written


def main() -> None:
    """Write the screenshots and print where."""
    with tempfile.TemporaryDirectory() as tmp:
        ws = make_workspace(Path(tmp))
        customer = api.get_invoice(ws, api.get_claim(ws, 1).invoice_number).customer
        ws.close()
        with running_web(Path(tmp) / "ws") as url:
            for path in shoot(url, customer):
                print(path.relative_to(ROOT))


if __name__ == "__main__":
    main()

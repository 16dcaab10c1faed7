"""The note form with the structured fields ``claims note add`` takes (kind, direction,
contact, outcome, when, next action and its date), in a real Chromium against the real server:
what is typed is what is stored, read by the same rules as the CLI; bad input is one line and
writes nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from claims import api
from claims.web.common import in_form_words
from tests.claims.helpers import TODAY, load_samples
from tests.web.conftest import add_people, follow, sign_in

pytestmark = pytest.mark.browser
AGENCY = "Ministry of Public Works"


@pytest.fixture
def notes_ws(workspace):
    """The sample invoices, one contact at the agency, and two people."""
    load_samples(workspace, today=TODAY)
    api.add_contact(workspace, AGENCY, name="Huda Al-Qahtani", email="huda@example.gov")
    add_people(workspace)
    return workspace


def fill_note(page, **fields: str) -> None:
    """Fill the note form by its labels (select boxes by option)."""
    labels = {"kind": "Kind", "direction": "Direction", "outcome": "Outcome"}
    for name, value in fields.items():
        if name in labels:
            page.get_by_label(labels[name], exact=True).select_option(value)
    boxes = {"text": "Text", "contact": "Contact spoken to (name or id)",
             "at": "When it happened", "next_action": "Next action",
             "next_action_date": "Next action date", "invoice": "About invoice"}
    for name, label in boxes.items():
        if name in fields:
            page.get_by_label(label, exact=name not in ("at",)).fill(fields[name])
    follow(page.get_by_role("button", name="Add note"))


def test_a_structured_note_is_stored_as_typed_and_bad_ones_are_refused(notes_ws, serve,
                                                                       chromium):
    yesterday = (datetime.now(UTC) - timedelta(days=1)).replace(second=0, microsecond=0)
    callback = (yesterday + timedelta(days=3)).date()
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    with serve(notes_ws) as url:
        page = chromium.new_page(viewport={"width": 1280, "height": 800})
        sign_in(page, url, "amira")
        page.goto(url + f"/customers/{AGENCY}")
        fill_note(page, text="Asked about the March invoice", kind="call",
                  direction="outbound", contact="Huda Al-Qahtani", outcome="callback_requested",
                  at=yesterday.strftime("%Y-%m-%dT%H:%M"), next_action="call back",
                  next_action_date=callback.isoformat())
        assert "added" in page.get_by_role("status").first.inner_text()
        entry = page.locator(".notes li").last.inner_text()
        assert "call outbound with Huda Al-Qahtani (callback requested)" in entry
        assert f"next: call back by {callback}" in entry
        refused = (  # each a one-line error from the same rule as the CLI's
            ({"text": "x", "next_action": "call back"}, 'Next action: give "Next action" and '
             '"Next action date" together'),
            ({"text": "x", "at": tomorrow}, "is in the future"),
            ({"text": "x", "at": "yesterday"}, "'yesterday' is not a date or date-time"),
            ({"text": "x", "contact": "Nobody"}, "Nobody"),
            ({"text": "x", "next_action": "call", "next_action_date": "1900-01-01"},
             "outside 1970-01-01"),
        )
        for fields, message in refused:
            page.goto(url + f"/customers/{AGENCY}")
            fill_note(page, **fields)
            alert = page.get_by_role("alert").inner_text()
            assert message in alert and "Traceback" not in alert, (fields, alert)
            assert "--" not in alert, alert  # the form's labels, not the CLI's options
    notes = api.list_notes(notes_ws, AGENCY)
    assert len(notes) == 1, "a refused note was written"
    note = notes[0]
    assert (note["kind"], note["direction"], note["contact"], note["outcome"]) == \
        ("call", "outbound", "Huda Al-Qahtani", "callback_requested")
    assert note["author"] == "amira" and note["summary"] == "Asked about the March invoice"
    assert (note["next_action"], note["next_action_date"]) == ("call back", callback)
    at = note["at"] if note["at"].tzinfo else note["at"].replace(tzinfo=UTC)
    assert at == yesterday


def test_an_api_error_reads_in_the_forms_words_not_the_clis() -> None:
    """The API words a refusal for the CLI; the web shows the same rule with the form's labels
    (a leading field unquoted, the others quoted), never a ``--option``."""
    assert in_form_words("--next-action: give --next-action and --next-action-date together "
                         "[rule: both]") == \
        'Next action: give "Next action" and "Next action date" together [rule: both]'
    assert in_form_words("--at: 2099-01-01 00:00 is in the future") == \
        "When it happened: 2099-01-01 00:00 is in the future"
    assert in_form_words("--kind: unknown interaction kind 'phone' (did you mean "
                         "call?)").startswith("Kind: unknown interaction kind")
    assert in_form_words("--skip-rows: must be 0 or more") == "skip rows: must be 0 or more"
    # a double dash that is not an option (inside a word, a file name, a bare "--") stays
    for text in ("a--b is not an option", "file x--kind.csv: bad", "-- alone", "amount: 12x"):
        assert in_form_words(text) == text

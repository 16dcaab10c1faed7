"""CLI conventions through the real CLI: --version, --limit ≥ 1, --format table|json|csv on
list commands, no truncation when piped, structured notes, the account view, and JSON from
status sync even when it fails."""

from __future__ import annotations

import csv
import io
import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from claims.workspace import Workspace
from tests.collections.conftest import add_invoices, customer

D = date


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """The CLI only parses and prints: SQLite is enough here."""
    return f"sqlite:///{tmp_path / 'claims.db'}"


LONG = "Ministry of Municipal, Rural Affairs and Housing — Eastern Province Finance Department"


@pytest.fixture
def book(ws: Workspace) -> Workspace:
    add_invoices(ws, LONG, [("INV-MOH-2026-000000123456", D(2026, 4, 1), D(2026, 5, 1),
                             "1000.00")])
    add_invoices(ws, "Acme", [("A-1", D(2026, 5, 1), D(2026, 6, 1), "400.00")])
    customer(ws, LONG, "ap@moh.test")
    customer(ws, "Acme", "ap@acme.test")
    return ws


def test_version_and_limit(cli: Any, book: Workspace) -> None:
    version = cli("--version", workspace=None)
    assert version.exit_code == 0 and version.stdout.startswith("claims ")
    for bad in ("0", "-1"):
        result = cli("worklist", "--limit", bad)
        assert result.exit_code == 2, result.output
        assert "Traceback" not in result.output
    one = json.loads(cli("worklist", "--as-of", "2026-06-30", "--limit", "1", "--json").stdout)
    assert [a["customer"] for a in one["accounts"]] == [LONG]  # 1,000 × 60 days ranks first


def test_list_formats(cli: Any, book: Workspace) -> None:
    got = cli("worklist", "--as-of", "2026-06-30", "--format", "csv")
    assert got.exit_code == 0, got.output
    rows = list(csv.DictReader(io.StringIO(got.stdout)))
    # 1,000 / 1,000 × 1 + 60 days × 0.5 = 31.00; 400 → 0.40 + 29 × 0.5 = 14.90
    assert [(r["rank"], r["customer"], r["score"]) for r in rows] == [
        ("1", LONG, "31.00"), ("2", "Acme", "14.90")]
    header = got.stdout.splitlines()[0]
    nothing = cli("worklist", "--as-of", "2026-01-01", "--format", "csv")  # nothing due yet
    assert nothing.exit_code == 0 and nothing.stdout == header + "\n"  # the header all the same
    contacts = list(csv.DictReader(io.StringIO(cli("contact", "list", "--format",
                                                   "csv").stdout)))
    assert [(c["customer"], c["email"]) for c in contacts] == [("Acme", "ap@acme.test"),
                                                               (LONG, "ap@moh.test")]
    assert json.loads(cli("plan", "list", "--format", "json").stdout) == []
    no_claims = cli("claim", "list", "--format", "csv").stdout  # the header, even when empty
    assert no_claims == "id,contract,invoice,type,status,reference\n"
    bad = cli("contact", "list", "--format", "xml")
    assert bad.exit_code == 2 and "'xml' is not one of table, json, csv" in bad.output
    # a list's filter is an option (`--customer`, as `plan list`, `promise list`); the
    # customer as an argument still works, with a deprecation line on stderr
    only = cli("contact", "list", "--customer", "Acme", "--format", "json")
    assert [c["email"] for c in json.loads(only.stdout)] == ["ap@acme.test"]
    assert "deprecated" not in only.stderr
    old = cli("contact", "list", "Acme", "--format", "json")
    assert json.loads(old.stdout) == json.loads(only.stdout)
    assert "the customer as an argument is deprecated; use --customer" in old.stderr
    both = cli("contact", "list", "Acme", "--customer", LONG)
    assert both.exit_code == 2 and "disagree" in both.stderr


def test_tables_are_not_cut_when_piped(cli: Any, book: Workspace) -> None:
    table = cli("followup", "receivables", "--as-of", "2026-06-30")
    assert table.exit_code == 0
    assert LONG in table.stdout and "INV-MOH-2026-000000123456" in table.stdout
    assert "…" not in table.stdout
    contacts = cli("contact", "list")
    assert LONG in contacts.stdout


def test_notes_callbacks_and_the_account(cli: Any, book: Workspace) -> None:
    added = cli("note", "add", "Acme", "nobody picked up", "--kind", "call", "--direction",
                "outbound", "--contact", "AP Acme", "--outcome", "no_answer", "--at",
                "2026-06-25T09:30", "--next-action", "call again", "--next-action-date",
                "2026-06-27", "--invoice", "A-1", "--json")
    assert added.exit_code == 0, added.output
    entry = json.loads(added.stdout)
    assert (entry["at"], entry["outcome"], entry["contact"]) == (
        "2026-06-25T09:30:00+00:00", "no_answer", "AP Acme")
    other = cli("note", "add", "Acme", "x", "--invoice", "INV-MOH-2026-000000123456")
    assert other.exit_code == 1 and other.stdout == ""
    assert "invoice INV-MOH-2026-000000123456 is not Acme's [rule: same-customer]" in \
        other.stderr
    assert len(other.stderr.strip().splitlines()) == 1
    future = cli("note", "add", "Acme", "x", "--at", "2199-01-01")
    assert future.exit_code == 1 and "is in the future" in future.stderr
    worklist = cli("worklist", "--as-of", "2026-06-30")
    assert "callbacks due (1):" in worklist.stdout
    assert "2026-06-27, 3 days late  Acme: call again (with AP Acme) [A-1]" in worklist.stdout
    data = json.loads(cli("worklist", "--as-of", "2026-06-30", "--json").stdout)
    assert [c["next_action"] for c in data["callbacks_due"]] == ["call again"]
    view = cli("account", "show", "Acme", "--as-of", "2026-06-30", "--json")
    assert view.exit_code == 0, view.output
    shown = json.loads(view.stdout)
    assert [i["aging"] for i in shown["open_items"]] == ["1-30"]  # due 06-01: 29 days
    assert shown["interactions"][0]["outcome"] == "no_answer"
    text = cli("account", "show", "Acme", "--as-of", "2026-06-30").stdout
    assert "open items (1)" in text and "A-1 due 2026-06-01 USD 400.00 [1-30]" in text
    unknown = cli("account", "show", "Nobody")
    assert unknown.exit_code == 1 and "unknown customer 'Nobody'" in unknown.stderr


def test_a_bad_value_names_the_option_as_typed(cli: Any, book: Workspace) -> None:
    """``--kind X`` refused names ``--kind`` (not the library's ``kind``): the user finds the
    option to fix; the same for every vocabulary option of notes, promises and disputes."""
    cases = [(["note", "add", "Acme", "x", "--kind", "phone"], "--kind: unknown interaction kind"),
             (["note", "add", "Acme", "x", "--outcome", "answered"], "--outcome: unknown outcome"),
             (["note", "add", "Acme", "x", "--direction", "sideways"],
              "--direction: unknown direction"),
             (["note", "add", "Acme", "x", "--contact", "Nobody"], "--contact: unknown contact"),
             (["note", "add", "Acme", "x", "--next-action", "call"], "--next-action: give"),
             (["promise", "add", "Acme", "--amount", "10.00", "--currency", "USD", "--date",
               "2099-01-01", "--by", "A", "--channel", "fax"], "--channel: unknown channel"),
             (["dispute", "open", "--invoice", "A-1", "--reason", "price", "--team",
               "Operations"], "--reason: unknown dispute reason"),
             (["dispute", "open", "--invoice", "A-1", "--reason", "pricing", "--team", "Ops"],
              "--team: unknown team")]
    for args, message in cases:
        result = cli(*args)
        assert result.exit_code == 1 and "Traceback" not in result.output, args
        lines = result.stderr.strip().splitlines()  # one line, naming the option first
        assert len(lines) == 1 and lines[0].startswith(f"error: {message}"), (args, lines)


def test_contacts_through_the_cli(cli: Any, book: Workspace) -> None:
    ja = cli("contact", "add", "Acme", "--name", "K. Sato", "--language", "ja")
    assert ja.exit_code == 1 and "unknown language 'ja'; known: ar, en" in ja.stderr
    cid = json.loads(cli("contact", "add", "Acme", "--name", "K. Sato", "--email",
                         "k@acme.test", "--json").stdout)["id"]
    edited = json.loads(cli("contact", "edit", str(cid), "--language", "ar", "--json").stdout)
    assert edited["language"] == "ar"
    assert cli("contact", "remove", str(cid)).exit_code == 0
    assert cli("contact", "remove", str(cid)).exit_code == 1  # gone: no contact N


def test_promise_and_plan_commands(cli: Any, book: Workspace) -> None:
    past = cli("promise", "add", "Acme", "--amount", "100", "--currency", "USD", "--date",
               "2026-06-01", "--by", "CFO", "--as-of", "2026-06-30")
    assert past.exit_code == 1 and "2026-06-01 is in the past" in past.stderr
    xyz = cli("promise", "add", "Acme", "--amount", "100", "--currency", "XYZ", "--date",
              "2026-07-01", "--by", "CFO", "--as-of", "2026-06-30")
    assert xyz.exit_code == 1 and "Traceback" not in xyz.output
    big = cli("promise", "add", "Acme", "--amount", "400.01", "--currency", "USD", "--date",
              "2026-07-01", "--by", "CFO", "--as-of", "2026-06-30")
    assert big.exit_code == 1 and "more than Acme has open in USD (400.00)" in big.stderr
    plan = json.loads(cli("plan", "add", "Acme", "--invoice", "A-1", "--instalment",
                          "2026-07-15=400", "--as-of", "2026-06-30", "--json").stdout)
    twice = cli("plan", "add", "Acme", "--invoice", "A-1", "--instalment", "2026-07-15=400",
                "--as-of", "2026-06-30")
    assert twice.exit_code == 1 and f"live plan #{plan['id']}" in twice.stderr
    listed = list(csv.DictReader(io.StringIO(cli("plan", "list", "--as-of", "2026-06-30",
                                                 "--format", "csv").stdout)))
    assert [(r["id"], r["standing"], r["next_due"], r["invoices"]) for r in listed] == [
        (str(plan["id"]), "good", "2026-07-15", "A-1")]
    cancelled = cli("plan", "cancel", str(plan["id"]), "--reason", "renegotiated")
    assert cancelled.exit_code == 0
    assert cli("plan", "list", "--format", "json").stdout.strip() == "[]"


def test_status_sync_json_on_failure(cli: Any, tmp_path: Path) -> None:
    result = cli("status", "sync", "--json", workspace=tmp_path / "nowhere")
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert data["ok"] is False and "not a Claimwright workspace" in data["error"]

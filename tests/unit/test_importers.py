"""claims.core.importers: the registries, a real third-party plug-in (a distribution on
sys.path with its entry_points.txt), did-you-mean names, broken plug-ins, and identify() on
every sample file."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

import claims.core.importers as importers_module
from claims.cli import app
from claims.core.importers import INVOICE_SOURCES, STATEMENT_FORMATS
from claims.core.models import Invoice
from claims.errors import PluginError, UnknownName
from claims.payments.parsers import parse_statement, sniff_format, statement_formats
from claims.sources.api import import_files
from claims.workspace import Workspace, init_workspace
from tests.payments.statements import Tx, bank_csv, camt053, mt940
from tests.sources.conftest import SAMPLES
from tests.sources.test_facturx import cii, facturx_pdf

#: The importer of the protocol's docstring, as a plug-in package would ship it.
EXAMPLE = re.search(r"    # mybank/importer.py\n(.*?)\n    # mybank's pyproject.toml",
                    importers_module.__doc__ or "", re.S)


def _distribution(root: Path, name: str, group: str, entry: str, module: str | None,
                  code: str = "") -> None:
    """A minimal installed distribution under ``root``: a module and its dist-info."""
    if module:
        pkg = root / module
        pkg.mkdir()
        (pkg / "__init__.py").write_text("")
        (pkg / "importer.py").write_text(code)
    info = root / f"{name}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[{group}]\n{entry}\n")


@pytest.fixture
def mybank(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The docstring's MyBank importer installed as a plug-in (sys.path only, no pip)."""
    assert EXAMPLE, "the protocol module's docstring lost its example"
    code = "\n".join(line[4:] for line in EXAMPLE.group(1).splitlines())
    site = tmp_path / "site"
    site.mkdir()
    _distribution(site, "mybank", "claims.statement_formats",
                  "mybank-json = mybank.importer:MyBankJson", "mybank", code)
    monkeypatch.syspath_prepend(str(site))
    return site


def _mybank_statement(path: Path) -> Path:
    path.write_text(json.dumps({"bank": "mybank", "iban": "DE02120300000000202051",
                                "id": "S-1", "transactions": [
                                    {"id": "T1", "date": "2026-11-20", "amount": "1500.00",
                                     "currency": "EUR", "ref": "INV-2026-001"},
                                    {"id": "T2", "date": "2026-11-20", "amount": "-20.00",
                                     "currency": "EUR"}]}))
    return path


def test_builtins_register_through_the_entry_point_groups() -> None:
    assert statement_formats() == ["camt053", "csv", "mt940"]
    assert {"ubl", "zatca", "cii", "facturx", "csv", "xlsx", "json", "yaml",
            "claimwright-csv"} <= set(INVOICE_SOURCES.names())


def test_a_third_party_format_is_found_and_used_by_the_cli(mybank: Path, tmp_path: Path) -> None:
    assert "mybank-json" in statement_formats()
    root = tmp_path / "ws"
    init_workspace(root).close()
    ws = Workspace(root)
    ws.store.put_invoices([Invoice(number="INV-2026-001", issue_date="2026-09-01",
                                   currency="EUR", customer="Ministry of Works",
                                   net="1500.00", vat="0", total="1500.00")])
    ws.close()
    stmt = _mybank_statement(tmp_path / "stmt.json")
    runner = CliRunner()
    named = runner.invoke(app, ["--workspace", str(root), "payments", "import", str(stmt),
                                "--format", "mybank-json", "--json", "--dry-run"])
    assert named.exit_code == 0, named.output
    assert json.loads(named.stdout)["format"] == "mybank-json"
    detected = runner.invoke(app, ["--workspace", str(root), "payments", "import", str(stmt),
                                   "--json"])
    assert detected.exit_code == 0, detected.output
    data = json.loads(detected.stdout)
    assert (data["format"], data["added"], data["applied"]) == ("mybank-json", 1, 1)


def test_unknown_names_get_a_suggestion(ws_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(UnknownName) as err:
        STATEMENT_FORMATS.get("camt53")
    assert "did you mean camt053?" in str(err.value) and err.value.field == "--format"
    with pytest.raises(UnknownName, match="did you mean zatca"):
        INVOICE_SOURCES.get("zatka")
    stmt = tmp_path / "s.txt"
    stmt.write_text("x")
    result = CliRunner().invoke(app, ["--workspace", str(ws_dir), "payments", "import",
                                      str(stmt), "--format", "mt94"])
    assert result.exit_code == 2  # a usage error, as the README's exit codes say
    assert "unknown format 'mt94' (did you mean mt940?)" in " ".join(result.output.split())


def test_a_broken_plug_in_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    site = tmp_path / "site"
    site.mkdir()
    _distribution(site, "brokenbank", "claims.statement_formats",
                  "broken = brokenbank.importer:Nope", "brokenbank", "import not_a_module\n")
    _distribution(site, "oddbank", "claims.invoice_sources",
                  "odd = oddbank.importer:ODD", "oddbank", "ODD = 42\n")
    monkeypatch.syspath_prepend(str(site))
    with pytest.raises(PluginError, match=r"plug-in 'broken' \(brokenbank.importer:Nope\).*"
                                          r"ModuleNotFoundError"):
        STATEMENT_FORMATS.get("broken")
    with pytest.raises(PluginError, match="'odd'.*is not an importer"):
        INVOICE_SOURCES.get("odd")
    # a name that is not asked for is never loaded
    assert STATEMENT_FORMATS.get("camt053").name == "camt053"


def test_identify_picks_the_builtin_statement_format(mybank: Path, tmp_path: Path) -> None:
    files = {"camt053": (tmp_path / "a.xml", camt053([Tx("1.00")])),
             "mt940": (tmp_path / "b.sta", mt940([Tx("1.00")])),
             "csv": (tmp_path / "c.csv", bank_csv([Tx("1.00")])),
             "mybank-json": (_mybank_statement(tmp_path / "d.json"), None)}
    for name, (path, data) in files.items():
        if data is not None:
            path.write_bytes(data)
        assert STATEMENT_FORMATS.detect(path).name == name, path
    assert sniff_format(camt053([Tx("1.00")])) == "camt053"
    assert parse_statement(files["mybank-json"][0]).lines[0].reference == "INV-2026-001"


def _expected(path: Path) -> str | None:
    """The built-in that should recognise a sample file (from its folder and name)."""
    if path.parent.name == "zatca":
        return "zatca"
    if path.name.endswith("_uncefact.xml"):
        return "cii"
    return "ubl"


def test_identify_picks_the_builtin_for_every_sample(tmp_path: Path) -> None:
    samples = sorted(SAMPLES.rglob("*.xml"))
    assert len(samples) > 50, f"the samples are missing under {SAMPLES}"
    for path in samples:
        found = INVOICE_SOURCES.identify(path)
        assert found is not None and found.name == _expected(path), path
    pdf = facturx_pdf(tmp_path / "RE-1.pdf", cii())
    plain = facturx_pdf(tmp_path / "plain.pdf", None)
    xlsx = tmp_path / "ar.xlsx"
    own = tmp_path / "inv.csv"
    own.write_text("number,issue_date,currency,description,quantity,unit_price,line_net,"
                   "line_vat\nINV-1,2026-11-01,SAR,Design,1,1.00,1.00,0.15\n")
    export = tmp_path / "ar.csv"
    export.write_text("Num,Date,Customer,Amount\nA,11/01/2026,X,1.00\n")
    xlsx.write_bytes(b"PK\x03\x04" + b"\0" * 26)
    (tmp_path / "inv.yml").write_text("[]\n")
    (tmp_path / "inv.json").write_text("[]\n")
    picks = {p: INVOICE_SOURCES.identify(tmp_path / p) for p in
             ("RE-1.pdf", "plain.pdf", "inv.csv", "ar.csv", "ar.xlsx", "inv.yml", "inv.json")}
    assert {p: (i.name if i else None) for p, i in picks.items()} == {
        "RE-1.pdf": "facturx", "plain.pdf": None, "inv.csv": "claimwright-csv", "ar.csv": "csv",
        "ar.xlsx": "xlsx", "inv.yml": "yaml", "inv.json": "json"}
    assert pdf.exists() and plain.exists()


def test_import_files_detects_each_file(ws_dir: Path, tmp_path: Path) -> None:
    ubl = sorted((SAMPLES / "peppol-bis3").glob("base-example.xml"))
    pdf = facturx_pdf(tmp_path / "RE-2026-001.pdf", cii())
    ws = Workspace(ws_dir)
    try:
        batch = import_files(ws, [*ubl, pdf], dry_run=True)
    finally:
        ws.close()
    assert batch.source == "facturx+ubl" and batch.invoices == 2 and batch.dry_run


@pytest.fixture
def ws_dir(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    init_workspace(root).close()
    return root

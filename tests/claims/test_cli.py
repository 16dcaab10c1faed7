"""The CLI as a specialist and a script use it: exit codes, clean errors, stable JSON."""

import json
from pathlib import Path

import pytest


def out_json(result, exit_code: int = 0):
    assert result.exit_code == exit_code, result.output
    return json.loads(result.stdout)


@pytest.fixture
def samples(cli):
    result = cli("init", "--with-samples", str(cli.root), workspace=None)
    assert result.exit_code == 0, result.output
    return cli.root / "samples"


def test_a_specialists_day_init_validate_build_show(cli, samples) -> None:
    contracts = out_json(cli("contract", "list", "--json"))
    assert [c["number"] for c in contracts] == ["C-2026-014"]
    claims = out_json(cli("claim", "list", "--json"))
    assert [c["status"] for c in claims] == ["DRAFT", "DRAFT", "DRAFT"]
    # sample claim 3 fails (an expired tax certificate): validate and build say so, exit 1
    validated = out_json(cli("claim", "validate", "--all", "--json"), exit_code=1)
    assert validated["ok"] is False and [c["errors"] for c in validated["claims"]] == [0, 0, 1]
    built = out_json(cli("claim", "build", "--all", "--json"), exit_code=1)
    assert [b["id"] for b in built["built"]] == [1, 2] and list(built["failed"]) == ["3"]
    assert all(Path(b["zip"]).is_file() for b in built["built"])
    shown = out_json(cli("claim", "show", "1", "--json"))
    assert shown["status"] == "READY" and [e["kind"] for e in shown["events"]] == [
        "created", "validated", "bundle.built"]
    verified = cli("evidence", "verify", "--json")
    assert verified.exit_code == 0, verified.output
    assert json.loads(verified.stdout)["ok"] is True
    timeline = cli("evidence", "log", "--claim", "1")
    assert "bundle.built" in timeline.stdout
    human = cli("claim", "show", "1")
    assert "completion-certificate" in human.stdout and "bundle.built" in human.stdout
    assert out_json(cli("claim", "list", "--status", "ready", "--json"))[0]["id"] == 1


def test_the_failing_sample_claim_shows_its_finding(cli, samples) -> None:
    """Sample claim 3 has a tax certificate that expired ten days ago: a newcomer sees a real
    finding, naming the file and page, and a build that refuses it."""
    check = cli("claim", "validate", "3")
    assert check.exit_code == 1 and "Traceback" not in check.output
    assert "claim 3: INVALID (1 error(s)" in check.stdout
    assert "E-DOC-006 tax-certificate-expired.pdf p.1: expired on" in check.stdout
    assert out_json(cli("claim", "show", "3", "--json"))["status"] == "INVALID"
    build = cli("claim", "build", "3")
    assert build.exit_code == 1 and "E-DOC-006" in build.output
    assert not any((cli.root / "bundles").rglob("*INV-2026-0103*"))
    for valid in ("1", "2"):
        assert cli("claim", "validate", valid).exit_code == 0


def test_validate_exits_1_with_every_finding_when_a_claim_has_errors(cli, samples) -> None:
    result = cli("claim", "new", "INV-2026-0101", "--contract", "C-2026-014",
                 "--milestone", "M3", "--doc", f"invoice={samples / 'INV-2026-0101.pdf'}",
                 "--json")
    new_id = out_json(result)["id"]
    check = cli("claim", "validate", str(new_id))
    assert check.exit_code == 1
    assert "E-DOC-001" in check.stdout and "E-DUP-001" in check.stdout
    assert "Traceback" not in check.output
    build = cli("claim", "build", str(new_id))
    assert build.exit_code == 1 and "E-DOC-001" in build.output


def test_a_bad_contract_file_is_one_clear_line_and_exit_1(cli, samples, tmp_path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("number: C-9\nagency: A\ncurrency: SAR\nceiling: 10.5\nperiod: {start: "
                   "2026-01-01, end: 2026-12-31}\nvat_percent: '15'\n"
                   "claim_types: [goods-delivery]\n")
    result = cli("contract", "add", str(bad))
    assert result.exit_code == 1
    assert str(bad) in result.stderr and "/ceiling" in result.stderr
    assert "binary float" in result.stderr and "Traceback" not in result.output
    assert [c["number"] for c in out_json(cli("contract", "list", "--json"))] == ["C-2026-014"]


def test_claim_new_takes_the_invoice_as_its_argument_and_the_old_option_still(cli,
                                                                            samples) -> None:
    """Issue #18: the thing a command acts on is its argument (`claim new INVOICE`, like
    `note add CUSTOMER`, `terms INVOICE`); `--invoice` still works for scripts, with a
    deprecation line on stderr; neither, or both disagreeing, is a usage error (exit 2)."""
    doc = ["--milestone", "M3", "--doc", f"invoice={samples / 'INV-2026-0101.pdf'}", "--json"]
    new = cli("claim", "new", "INV-2026-0101", "--contract", "C-2026-014", *doc)
    assert new.exit_code == 0 and "deprecated" not in new.stderr
    old = cli("claim", "new", "--contract", "C-2026-014", "--invoice", "INV-2026-0101", *doc)
    assert old.exit_code == 0, old.output
    assert "warning: --invoice is deprecated" in old.stderr
    assert [out_json(r)["invoice"] for r in (new, old)] == ["INV-2026-0101"] * 2
    missing = cli("claim", "new", "--contract", "C-2026-014", *doc)
    both = cli("claim", "new", "INV-2026-0101", "--invoice", "INV-2026-0102",
               "--contract", "C-2026-014", *doc)
    assert (missing.exit_code, both.exit_code) == (2, 2)
    assert "INVOICE" in missing.stderr and "disagree" in both.stderr
    assert "Traceback" not in missing.output + both.output
    claims = out_json(cli("claim", "list", "--json"))
    assert [c["invoice"] for c in claims].count("INV-2026-0101") == 3  # sample 1 + new + old


def claim_new(cli, samples, *docs: str):
    args = ["claim", "new", "INV-2026-0102", "--contract", "C-2026-014", "--milestone", "M4"]
    for d in docs:
        args += ["--doc", d]
    return cli(*args)


@pytest.mark.parametrize("doc, words", [
    ("completion-certifcate={inv}", "did you mean completion-certificate?"),
    ("invoice={samples}/../samples/INV-2026-0102.pdf", "'..' is refused"),
    ("invoice={samples}/nope.pdf", "file not found"),
    ("invoice", "is not TYPE=VALUE"),
])
def test_bad_document_arguments_are_refused_and_nothing_is_stored(cli, samples, doc, words) -> None:
    before = sorted(p.name for p in (cli.root / "documents").rglob("*"))
    result = claim_new(cli, samples, doc.format(inv=samples / "INV-2026-0102.pdf",
                                                 samples=samples))
    assert result.exit_code == 1 and words in result.stderr, result.output
    assert "Traceback" not in result.output
    assert len(out_json(cli("claim", "list", "--json"))) == 3  # the three sample claims
    assert sorted(p.name for p in (cli.root / "documents").rglob("*")) == before


def test_a_2_gb_file_is_refused_before_it_is_copied(cli, samples, tmp_path) -> None:
    huge = tmp_path / "huge.pdf"
    with huge.open("wb") as fh:  # sparse: costs no disk
        fh.truncate(2 * 1024**3)
    result = claim_new(cli, samples, f"invoice={huge}")
    assert result.exit_code == 1 and "max_bytes" in result.stderr
    assert "2,147,483,648 bytes" in result.stderr
    assert not list((cli.root / "documents").rglob(".incoming-*"))


def test_invoices_with_floats_are_refused_whole(cli, samples, tmp_path) -> None:
    bad = tmp_path / "inv.json"
    good = {"number": "INV-9", "issue_date": "2026-11-01", "currency": "SAR", "net": "10.00",
            "vat": "1.50", "total": "11.50"}
    bad.write_text(json.dumps([good, good | {"number": "INV-10", "total": 11.5}]))
    result = cli("invoice", "add", str(bad))
    assert result.exit_code == 1 and "/1/total" in result.stderr and "binary float" in result.stderr
    again = cli("invoice", "add", str(samples / "invoices.json"), "--json")
    assert out_json(again)["unchanged"] == ["INV-2026-0101", "INV-2026-0102", "INV-2026-0103"]


def test_invoices_from_csv(cli, samples, tmp_path) -> None:
    csv_file = tmp_path / "inv.csv"
    csv_file.write_text(
        "number,issue_date,currency,customer,description,quantity,unit_price,line_net,line_vat\n"
        "INV-77,2026-11-01,SAR,Ministry,Design,2,500.00,1000.00,150.00\n"
        "INV-77,2026-11-01,SAR,Ministry,Survey,1,200.00,200.00,30.00\n")
    added = out_json(cli("invoice", "add", str(csv_file), "--json"))
    assert added["added"] == ["INV-77"]
    wrong = tmp_path / "wrong.csv"
    wrong.write_text("invoice,amount\nX,1\n")
    result = cli("invoice", "add", str(wrong))
    assert result.exit_code == 1 and "missing column(s)" in result.stderr


def test_a_claimwright_csv_without_its_optional_customer_column_is_read(cli, samples,
                                                                       tmp_path) -> None:
    """customer is optional (claims.sources.invoice_file); its absence was refused as 'row 2/
    customer: Input should be a valid string'."""
    csv_file = tmp_path / "inv.csv"
    csv_file.write_text(
        "number,issue_date,due_date,currency,description,quantity,unit_price,line_net,line_vat\n"
        "INV-D1,2026-11-12,2026-12-12,SAR,Design,1,10.00,10.00,1.50\n")
    result = cli("invoice", "add", str(csv_file))
    assert result.exit_code == 0, result.output
    assert cli("invoice", "show", "INV-D1").exit_code == 0



@pytest.mark.parametrize(("field", "value"), [("number", ""), ("number", "   "),
                                              ("number", "A\nB"), ("number", "X" * 65),
                                              ("contract_number", "C\x00"),
                                              ("customer", "M" * 201), ("customer", "M\rX")])
def test_a_number_or_customer_no_one_can_use_is_refused_at_the_door(cli, samples, tmp_path, field,
                                                                   value) -> None:
    """Was stored (an empty number, a newline in it; 65 characters fail PostgreSQL's
    column later): 1 to 64 characters, not blank, no control characters."""
    path = tmp_path / "inv.json"
    good = {"number": "INV-N1", "issue_date": "2026-11-01", "currency": "SAR", "net": "10.00",
            "vat": "1.50", "total": "11.50"}
    path.write_text(json.dumps([good | {field: value}]))
    result = cli("invoice", "add", str(path))
    assert result.exit_code == 1 and "Traceback" not in result.output
    line = " ".join(result.stderr.split())
    assert f"{path}: /0/{field}: " in line
    assert ("[rule: customer-name]" in line and "at most 200 characters, without control "
            "characters" in line) if field == "customer" else (
        "[rule: invoice-number]" in line
        and "1 to 64 characters, not blank, without control characters" in line)
    assert cli("invoice", "show", "INV-N1").exit_code == 1  # nothing stored


def test_no_workspace_is_a_clear_error(cli, tmp_path) -> None:
    result = cli("claim", "list", workspace=tmp_path / "nowhere")
    assert result.exit_code == 1 and "not a Claimwright workspace" in result.stderr


def test_init_refuses_to_overwrite_a_workspace(cli, samples) -> None:
    result = cli("init", str(cli.root), workspace=None)
    assert result.exit_code == 1 and "refusing to overwrite" in result.stderr


def test_unknown_claim_ids_and_missing_targets(cli, samples) -> None:
    assert "no claim 99" in cli("claim", "show", "99").stderr
    for command in ("validate", "build"):  # a missing target is a usage error: exit 2
        result = cli("claim", command)
        assert result.exit_code == 2 and "give a claim ID or --all" in result.stderr
        assert "Traceback" not in result.output
    both = cli("claim", "validate", "1", "--all")
    assert both.exit_code == 2 and "not both" in both.stderr


def test_invoice_add_says_changed_as_its_json_does_and_contract_list_keeps_the_ceiling(
        cli, samples) -> None:
    human = cli("invoice", "add", str(samples / "invoices.json"))
    assert human.exit_code == 0 and "changed 0" in human.stdout and "updated" not in human.stdout
    table = cli("contract", "list")
    assert "SAR 2,500,000.00" in table.stdout


def test_build_dry_run_writes_nothing(cli, samples) -> None:
    result = out_json(cli("claim", "build", "--all", "--dry-run", "--json"), exit_code=1)
    assert result["dry_run"] and [b["id"] for b in result["built"]] == [1, 2]
    assert "E-DOC-006" in result["failed"]["3"]  # the failing sample claim
    assert not any((cli.root / "bundles").rglob("*.zip"))


def _claims(root: Path, *args: str, **env: str):
    import os
    import subprocess
    import sys

    return subprocess.run([sys.executable, "-m", "claims", "--workspace", str(root), *args],
                          capture_output=True, text=True, env={**os.environ, **env})


def test_json_event_lines_go_to_scripts_and_stay_out_of_a_persons_output(tmp_path) -> None:
    """Not on a terminal (cron, CI) each action logs a JSON event line on stderr; with
    CLAIMS_LOG_LEVEL=warning (what `make demo` sets) only the human output remains."""
    root = tmp_path / "ws"
    assert _claims(root, "init", "--with-samples", str(root)).returncode == 0
    scripted = _claims(root, "claim", "validate", "--all")
    events = [json.loads(line) for line in scripted.stderr.splitlines() if line.startswith("{")]
    assert any(e["event"] == "claim.validated" for e in events), scripted.stderr
    person = _claims(root, "claim", "validate", "1", CLAIMS_LOG_LEVEL="warning")
    assert person.returncode == 0 and "VALID" in person.stdout
    assert person.stderr == ""
    bad = _claims(root, "claim", "list", CLAIMS_LOG_LEVEL="loud")
    assert bad.returncode == 1 and "Traceback" not in bad.stderr
    assert "CLAIMS_LOG_LEVEL: 'loud' is not one of debug, info, warning, error" in bad.stderr


def test_withdraw_from_the_command_line(cli, samples) -> None:
    done = cli("claim", "withdraw", "2", "--reason", "duplicate of claim 1", "--json")
    assert out_json(done)["status"] == "WITHDRAWN"
    again = cli("claim", "withdraw", "2", "--reason", "twice")
    assert again.exit_code == 1 and "is WITHDRAWN" in again.stderr
    listed = out_json(cli("claim", "list", "--status", "withdrawn", "--json"))
    assert [c["id"] for c in listed] == [2]
    bogus = cli("claim", "list", "--status", "BOGUS")
    assert bogus.exit_code == 1 and "unknown status 'BOGUS'" in bogus.stderr


def test_the_workspace_is_private_to_its_owner(cli, samples) -> None:
    """Database, documents, bundles and keys: nothing is readable by group or others."""
    import stat

    assert cli("claim", "build", "1").exit_code == 0
    exposed = [p for p in cli.root.rglob("*")
               if not p.is_symlink() and p.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO)]
    assert exposed == []
    assert stat.S_IMODE(cli.root.stat().st_mode) == 0o700
    stored = next((cli.root / "documents").rglob("*.pdf"))
    assert stat.S_IMODE(stored.stat().st_mode) == 0o400


def test_build_all_prints_the_bag_folder_and_the_zip_of_each_claim(cli, samples) -> None:
    """The README's walkthrough: ``claim build --all`` prints, per valid claim, the bag folder
    and its zip (one line: ``claim 1: bag DIR, zip FILE``); claim 3 is refused, exit 1."""
    built = cli("claim", "build", "--all")
    assert built.exit_code == 1 and "claim 3: error:" in built.stderr
    lines = [ln for ln in built.stdout.splitlines() if ln.startswith("claim ")]
    assert [ln.split(":")[0] for ln in lines] == ["claim 1", "claim 2"]
    for line in lines:
        bag, zipped = line.split(": bag ", 1)[1].split(", zip ")
        assert Path(bag).is_dir() and (Path(bag) / "bagit.txt").is_file()
        assert Path(zipped).is_file() and zipped == f"{bag}.zip"
    assert built.stdout.splitlines()[-1] == "2 built, 1 failed"

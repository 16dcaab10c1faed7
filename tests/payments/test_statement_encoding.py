"""A camt.053 statement in another encoding than UTF-8 is still a camt.053 (by its byte-order
mark or its declaration), read as such, or refused naming the file and the encoding — never
taken for a CSV. Each file is written by the test and read from disk."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from claims.errors import InputError
from claims.payments.parsers import parse_statement, sniff_format
from tests.payments.statements import Tx, camt053

ENTRIES = [Tx("1500.00", payer="Ministry of Works", reference="INV-2026-001"),
           Tx("250.00", payer="Müller & Söhne", text="Rechnung INV-2026-002")]
BOMS = {"utf-16-le": b"\xff\xfe", "utf-16-be": b"\xfe\xff"}


def _encoded(encoding: str, *, bom: bytes = b"", declared: str = "UTF-16") -> bytes:
    text = camt053(ENTRIES).decode().replace('encoding="UTF-8"', f'encoding="{declared}"')
    return bom + text.encode(encoding)


@pytest.mark.parametrize("encoding", sorted(BOMS))
def test_utf16_with_bom_is_read_as_camt053(tmp_path: Path, encoding: str) -> None:
    path = tmp_path / f"stmt-{encoding}.xml"
    path.write_bytes(_encoded(encoding, bom=BOMS[encoding]))
    assert sniff_format(path.read_bytes()) == "camt053"
    utf8 = tmp_path / "stmt-utf8.xml"
    utf8.write_bytes(camt053(ENTRIES))
    st = parse_statement(path).materialize()  # no --format: recognised by its content
    assert st.format == "camt053" and st.lines == parse_statement(utf8).materialize().lines
    assert [(line.amount, line.payer_name) for line in st.lines] == [
        (1500, "Ministry of Works"), (250, "Müller & Söhne")]


@pytest.mark.parametrize(("encoding", "bom", "declared"), [
    ("utf-16-le", b"", "UTF-16-LE"), ("utf-16-be", b"", "utf-16be"),
    ("utf-16-be", BOMS["utf-16-be"], "UTF-16-BE"), ("utf-16-le", b"", None)])
def test_utf16_by_width_and_any_spelling_of_its_declaration(tmp_path: Path, encoding: str,
                                                            bom: bytes,
                                                            declared: str | None) -> None:
    text = camt053(ENTRIES).decode()
    if declared is None:
        text = text.split("\n", 1)[1]  # no declaration at all
    path = tmp_path / "stmt.xml"
    path.write_bytes(bom + text.replace('encoding="UTF-8"', f'encoding="{declared}"')
                     .encode(encoding))
    st = parse_statement(path).materialize()
    assert st.format == "camt053" and len(st.lines) == 2


def test_utf16_statement_is_imported_through_the_command(pay_cli, tmp_path: Path) -> None:
    path = tmp_path / "stmt.xml"
    path.write_bytes(_encoded("utf-16-le", bom=BOMS["utf-16-le"]))
    result = pay_cli("payments", "import", str(path), "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert (data["format"], data["lines"], data["added"]) == ("camt053", 2, 2)


@pytest.mark.parametrize(("data", "name"), [
    (b"\xff\xfe\x00\x00" + camt053(ENTRIES).decode().encode("utf-32-le"), "UTF-32-LE"),
    (b"\x00\x00\xfe\xff" + camt053(ENTRIES).decode().encode("utf-32-be"), "UTF-32-BE"),
    (_encoded("utf-16-le", bom=BOMS["utf-16-le"], declared="UTF-8"), "UTF-16-LE"),
    (camt053(ENTRIES).replace(b'encoding="UTF-8"', b'encoding="Shift_JIS"'), "Shift_JIS"),
    (camt053(ENTRIES).replace(b'encoding="UTF-8"', b'encoding="x-no-such"'), "x-no-such")])
def test_unreadable_encoding_is_refused_naming_file_and_encoding(tmp_path: Path, data: bytes,
                                                                 name: str) -> None:
    path = tmp_path / "stmt.xml"
    path.write_bytes(data)
    assert sniff_format(data) == "camt053"  # not a CSV
    with pytest.raises(InputError) as err:
        parse_statement(path).materialize()
    assert (err.value.rule, err.value.file) == ("xml-encoding", str(path))
    assert f"encoded {name} " in str(err.value) and "\n" not in str(err.value)


def test_unreadable_encoding_is_one_line_at_the_command(pay_cli, tmp_path: Path) -> None:
    path = tmp_path / "stmt.xml"
    path.write_bytes(b"\xff\xfe\x00\x00" + camt053(ENTRIES).decode().encode("utf-32-le"))
    result = pay_cli("payments", "import", str(path))
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert str(path) in result.output and "UTF-32-LE" in result.output


@pytest.mark.parametrize("encoding", ["utf-16", "utf-8-sig"])
def test_a_csv_with_a_bom_stays_a_csv(tmp_path: Path, encoding: str) -> None:
    data = "date,amount,currency\n2026-11-20,10.00,EUR\n".encode(encoding)
    assert sniff_format(data) == "csv"

"""Reading what a specialist gives us: contract files, invoice files, supporting documents.

Everything here checks before it writes: a bad file raises :class:`InputError` naming the file,
the field and the rule, and nothing is stored.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import tempfile
from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import jsonschema
import yaml
from pydantic import ValidationError

import schemas
from claims.core.claimtypes import claim_type
from claims.core.models import Contract, Invoice
from claims.errors import InputError
from claims.lifecycle.validation.findings import Finding, error

CHUNK = 1024 * 1024


# -- structured files -------------------------------------------------------------------------

def _plain(value: Any) -> Any:
    """YAML dates to ISO strings, so the JSON Schema sees what a JSON file would give it."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def read_structured(path: Path) -> Any:
    """Parse a JSON or YAML file (by extension); floats stay floats so rules can refuse them."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError("file not found", file=str(path), rule="file-exists") from None
    except (OSError, UnicodeDecodeError) as err:
        raise InputError(f"cannot read: {err}", file=str(path), rule="utf-8-text") from err
    try:
        if path.suffix.lower() == ".json":
            return json.loads(text)
        return _plain(yaml.safe_load(text))
    except (json.JSONDecodeError, yaml.YAMLError) as err:
        raise InputError(f"not valid {path.suffix.lstrip('.').upper() or 'YAML'}: {err}",
                         file=str(path), rule="syntax") from err


def _pointer(path: Iterable[Any]) -> str:
    return "/" + "/".join(str(p) for p in path)


def _schema_message(err: jsonschema.ValidationError) -> str:
    value = err.instance
    if isinstance(value, float):
        return f"{value!r} is a binary float; write amounts as strings, e.g. \"{value:.2f}\""
    if isinstance(value, (int, str)) and not isinstance(value, bool) and str(value).startswith("-"):
        return f"{value} is negative; amounts and rates must be zero or more"
    if err.validator == "oneOf" and "description" in err.schema:
        return f"{value!r} is not valid: {err.schema['description']}"
    return err.message


def schema_findings(instance: Any, schema: dict[str, Any], *, file: str,
                    code: str = "E-SCHEMA-001") -> list[Finding]:
    """Every JSON Schema violation of ``instance`` as findings with JSON pointers."""
    validator = jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
    findings = []
    for err in sorted(validator.iter_errors(instance), key=lambda e: list(map(str, e.path))):
        rule = "/".join(str(p) for p in err.schema_path)
        findings.append(error(code, f"{_schema_message(err)} [schema: {rule}]", file=file,
                              pointer=_pointer(err.path)))
    return findings


def _raise_findings(findings: list[Finding], file: str) -> None:
    if findings:
        lines = "\n".join(f"  {f.pointer}: {f.message}" for f in findings)
        raise InputError(f"{len(findings)} problem(s)\n{lines}", file=file,
                         rule="schemas/contract.schema.json")


def load_contract(path: Path) -> Contract:
    """A contract file (YAML or JSON), checked against ``schemas/contract.schema.json``."""
    data = read_structured(path)
    _raise_findings(schema_findings(data, schemas.load("contract"), file=str(path)), str(path))
    for i, name in enumerate(data["claim_types"]):
        try:
            claim_type(name)
        except InputError as err:
            raise InputError(str(err.args[0]).split(": ", 1)[-1], file=str(path),
                             field=f"/claim_types/{i}", rule="known-claim-type") from None
    flat = dict(data)
    period = flat.pop("period")
    flat["period_start"], flat["period_end"] = period["start"], period["end"]
    try:
        contract = Contract.model_validate(flat)
    except ValidationError as err:
        raise _pydantic_error(err, str(path)) from None
    if contract.period_end < contract.period_start:
        raise InputError(f"period ends {contract.period_end} before it starts "
                         f"{contract.period_start}", file=str(path), field="/period",
                         rule="period-order")
    return contract


def _pydantic_error(err: ValidationError, file: str, prefix: str = "") -> InputError:
    problems = []
    for e in err.errors():
        loc = prefix + _pointer(e["loc"])
        msg = e["msg"].removeprefix("Value error, ")
        problems.append(f"  {loc}: {msg}")
    first = err.errors()[0]
    return InputError(f"{len(problems)} problem(s)\n" + "\n".join(problems), file=file,
                      field=prefix + _pointer(first["loc"]), rule=first["type"])


# -- invoices ---------------------------------------------------------------------------------

_CSV_INVOICE = ("number", "issue_date", "due_date", "currency", "customer", "contract_number",
                "period_start", "period_end", "net", "vat", "total")
_CSV_LINE = ("description", "quantity", "unit_price", "line_net", "vat_percent", "line_vat")


def _read_invoice_csv(path: Path) -> list[dict[str, Any]]:
    """One row per invoice line; invoice columns repeat on each of its rows."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            missing = {"number", "issue_date", "currency", "description", "quantity",
                       "unit_price", "line_net", "line_vat"} - set(reader.fieldnames or ())
            if missing:
                raise InputError(f"missing column(s) {', '.join(sorted(missing))}",
                                 file=str(path), field="header", rule="invoice-csv-columns")
            invoices: dict[str, dict[str, Any]] = {}
            for rowno, row in enumerate(reader, start=2):
                number = (row.get("number") or "").strip()
                if not number:
                    raise InputError("empty invoice number", file=str(path),
                                     field=f"row {rowno}: number", rule="required")
                inv = invoices.setdefault(number, {
                    k: (row.get(k) or None) for k in _CSV_INVOICE} | {"lines": [], "_row": rowno})
                inv["lines"].append({"description": row["description"],
                                     "quantity": row["quantity"],
                                     "unit_price": row["unit_price"], "net": row["line_net"],
                                     "vat_percent": row.get("vat_percent") or None,
                                     "vat": row["line_vat"]})
    except FileNotFoundError:
        raise InputError("file not found", file=str(path), rule="file-exists") from None
    except (UnicodeDecodeError, csv.Error) as err:
        raise InputError(f"not a readable CSV: {err}", file=str(path), rule="csv") from err
    return list(invoices.values())


def load_invoices(path: Path) -> list[Invoice]:
    """Invoices from a JSON, YAML or CSV file: all of them valid, or an error and none."""
    if path.suffix.lower() == ".csv":
        raw = _read_invoice_csv(path)
    else:
        data = read_structured(path)
        raw = data.get("invoices") if isinstance(data, dict) and "invoices" in data else data
        if isinstance(raw, dict):
            raw = [raw]
        if not isinstance(raw, list):
            raise InputError("expected a list of invoices (or {invoices: [...]})",
                             file=str(path), rule="invoice-file-shape")
    invoices: list[Invoice] = []
    seen: set[str] = set()
    for i, item in enumerate(raw):
        where = f"row {item.pop('_row')}" if isinstance(item, dict) and "_row" in item else f"/{i}"
        if isinstance(item, dict):
            for key in ("net", "vat", "total"):
                if item.get(key) is None and item.get("lines"):
                    item[key] = _sum_lines(item["lines"], "net" if key != "total" else None, key)
        try:
            invoice = Invoice.model_validate(item)
        except ValidationError as err:
            raise _pydantic_error(err, str(path), prefix=where) from None
        negative = [name for name in ("net", "vat", "total") if getattr(invoice, name) < 0]
        if negative:
            raise InputError(f"{getattr(invoice, negative[0])} is negative (a credit note is "
                             "not a claimable invoice)", file=str(path),
                             field=f"{where}/{negative[0]}", rule="non-negative-amount")
        if invoice.number in seen:
            raise InputError(f"invoice {invoice.number} appears twice", file=str(path),
                             field=f"{where}/number", rule="unique-invoice-number")
        seen.add(invoice.number)
        invoices.append(invoice)
    return invoices


def _sum_lines(lines: list[dict[str, Any]], key: str | None, target: str) -> str | None:
    try:
        if target == "total":
            return str(sum(Decimal(str(ln["net"])) + Decimal(str(ln["vat"])) for ln in lines))
        return str(sum(Decimal(str(ln[target])) for ln in lines))
    except Exception:  # noqa: BLE001 - leave it to the model's validation to name the field
        return None


# -- documents --------------------------------------------------------------------------------

def check_document_path(raw: str, *, field: str) -> Path:
    """A user-given document path: no ``..`` components, must be an existing regular file."""
    if ".." in Path(raw).parts:
        raise InputError("a path with '..' is refused", file=raw, field=field,
                         rule="no-parent-traversal")
    path = Path(raw)
    if not path.exists():
        raise InputError("file not found", file=raw, field=field, rule="file-exists")
    if not path.is_file():
        raise InputError("not a regular file", file=raw, field=field, rule="regular-file")
    return path


def store_blob(source: Path, dest_dir: Path, *, max_bytes: int, field: str) -> tuple[str, int, Path]:
    """Copy ``source`` into the content-addressed ``dest_dir`` (streamed, hashed as it goes).

    Returns (sha256, size, stored path). The stored file is read-only and named by its digest,
    so the same bytes are stored once and a stored document can never change under a claim.
    """
    size = source.stat().st_size
    if size > max_bytes:
        raise InputError(f"{size:,} bytes is over the limit of {max_bytes:,}", file=str(source),
                         field=field, rule="max_bytes")
    dest_dir.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    fd, tmp_name = tempfile.mkstemp(dir=dest_dir, prefix=".incoming-")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out, source.open("rb") as src:
            copied = 0
            while chunk := src.read(CHUNK):
                digest.update(chunk)
                out.write(chunk)
                copied += len(chunk)
                if copied > max_bytes:  # the file grew while we read it
                    raise InputError(f"over the limit of {max_bytes:,} bytes while reading",
                                     file=str(source), field=field, rule="max_bytes")
        sha = digest.hexdigest()
        final = dest_dir / sha[:2] / f"{sha}{source.suffix.lower() or '.bin'}"
        final.parent.mkdir(exist_ok=True)
        if final.exists():
            tmp.unlink()
        else:
            tmp.chmod(0o444)
            tmp.replace(final)
        return sha, copied, final
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise

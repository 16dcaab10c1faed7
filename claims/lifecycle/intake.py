"""Reading what a specialist gives us: contract files, invoice files, supporting documents.

Everything here checks before it writes: a bad file raises :class:`InputError` naming the file,
the field and the rule, and nothing is stored.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import date, datetime
from pathlib import Path
from typing import Any

import jsonschema
import yaml
from pydantic import ValidationError

import schemas
from claims.core.claimtypes import claim_type
from claims.core.importers import INVOICE_SOURCES, regular_file
from claims.core.models import Contract, Invoice
from claims.core.money import CURRENCIES, read_amount
from claims.core.moments import check_date
from claims.errors import InputError
from claims.lifecycle.validation.findings import Finding, error



# -- structured files -------------------------------------------------------------------------

#: Values a YAML file may hold once its aliases (``*name``) are expanded: a few nested
#: aliases ("billion laughs") would otherwise expand past any memory.
MAX_YAML_VALUES = 1_000_000


class _TooLarge(Exception):
    """A YAML file holds more than :data:`MAX_YAML_VALUES` values, aliases expanded."""


def _plain(value: Any, budget: list[int] | None = None) -> Any:
    """YAML dates to ISO strings, so the JSON Schema sees what a JSON file would give it;
    :class:`_TooLarge` past :data:`MAX_YAML_VALUES` values."""
    budget = [MAX_YAML_VALUES] if budget is None else budget
    budget[0] -= 1
    if budget[0] < 0:
        raise _TooLarge
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _plain(v, budget) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v, budget) for v in value]
    return value


class _Loader(yaml.SafeLoader):
    """YAML's safe loader, whose impossible dates (2026-02-30) are YAML errors with their line
    and column, not a bare ValueError."""


def _timestamp(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
    try:
        return yaml.SafeLoader.construct_yaml_timestamp(loader, node)  # type: ignore[arg-type]
    except (ValueError, OverflowError) as err:
        raise yaml.constructor.ConstructorError(
            None, None, f"{node.value!r} is not a date ({err})", node.start_mark) from None


_Loader.add_constructor("tag:yaml.org,2002:timestamp", _timestamp)


def read_structured(path: Path) -> Any:
    """Parse a JSON or YAML file (by extension); floats stay floats so rules can refuse them."""
    regular_file(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError("file not found", file=str(path), rule="file-exists") from None
    except (OSError, UnicodeDecodeError) as err:
        raise InputError(f"cannot read: {err}", file=str(path), rule="utf-8-text") from err
    if not text.strip():  # YAML reads nothing as None: "None is not of type 'object'"
        raise InputError("is empty", file=str(path), rule="not-empty")
    try:
        if path.suffix.lower() == ".json":
            return json.loads(text)
        return _plain(yaml.load(text, Loader=_Loader))  # noqa: S506 - a SafeLoader
    except (json.JSONDecodeError, yaml.YAMLError) as err:
        raise InputError(f"not valid {path.suffix.lstrip('.').upper() or 'YAML'}: {err}",
                         file=str(path), rule="syntax") from err
    except _TooLarge:
        raise InputError(f"more than {MAX_YAML_VALUES:,} values once its aliases (*name) are "
                         "expanded", file=str(path), rule="yaml-size") from None
    except RecursionError:
        raise InputError("nested too deeply", file=str(path), rule="syntax") from None


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
    if data["currency"] in CURRENCIES:  # an unknown one: the model names it
        read_amount(data["ceiling"], data["currency"], file=str(path), field="/ceiling")
    flat = dict(data)
    period = flat.pop("period")
    flat["period_start"], flat["period_end"] = period["start"], period["end"]
    try:
        contract = Contract.model_validate(flat)
    except ValidationError as err:
        raise pydantic_error(err, str(path)) from None
    check_date(contract.period_start, "/period/start", file=str(path))
    check_date(contract.period_end, "/period/end", file=str(path))
    if contract.period_end < contract.period_start:
        raise InputError(f"period ends {contract.period_end} before it starts "
                         f"{contract.period_start}", file=str(path), field="/period",
                         rule="period-order")
    return contract


def pydantic_error(err: ValidationError, file: str, prefix: str = "") -> InputError:
    """An :class:`InputError` listing every problem of ``err`` (JSON pointers after
    ``prefix``), its field and rule those of the first."""
    problems = []
    for e in err.errors():
        loc = prefix + _pointer(e["loc"])
        msg = e["msg"].removeprefix("Value error, ")
        problems.append(f"  {loc}: {msg}")
    first = err.errors()[0]
    return InputError(f"{len(problems)} problem(s)\n" + "\n".join(problems), file=file,
                      field=prefix + _pointer(first["loc"]), rule=first["type"])


# -- invoices ---------------------------------------------------------------------------------

#: Which invoice importer (:mod:`claims.sources.invoice_file`) reads which extension; any other
#: extension is read as YAML.
INVOICE_FILE_FORMATS = {".csv": "claimwright-csv", ".json": "json"}


def load_invoices(path: Path) -> list[Invoice]:
    """Invoices from a JSON, YAML or CSV file: all of them valid, or an error and none.

    The file is read by the importer registered for its extension (``claims.invoice_sources``).
    """
    importer = INVOICE_SOURCES.get(INVOICE_FILE_FORMATS.get(path.suffix.lower(), "yaml"),
                                   file=str(path))
    return [item.invoice for item in importer.extract(path, {})]

"""Importers: one protocol for every way data comes in as a file (invoices, bank statements).

An importer (the beangulp idea) has a ``name``, says cheaply whether it can read a file
(``identify(path) -> bool``: the extension, the first bytes) and reads it
(``extract(path, options)``). Importers are found by name in two entry-point groups, and the
built-in ones are registered there exactly as a third-party package registers its own
(``pyproject.toml``)::

    [project.entry-points."claims.invoice_sources"]
    ubl = "claims.sources.importers:UblSource"

    [project.entry-points."claims.statement_formats"]
    camt053 = "claims.payments.formats:Camt053Format"

What ``extract`` returns, per group:

* ``claims.invoice_sources`` (:data:`INVOICE_SOURCES`): a list of
  :class:`claims.sources.common.SourceInvoice`. Options: ``mapping`` and ``mapping_name`` for
  the tabular exports; the others take none. (Zoho Books is an API with a cursor, not a file:
  it stays the named source :func:`claims.sources.api.import_zoho`.)
* ``claims.statement_formats`` (:data:`STATEMENT_FORMATS`): one
  :class:`claims.payments.parsers.Statement` of credit lines (a list, or an iterator that
  reads the file as it goes: the built-in camt.053 and CSV formats stream). Options: ``mapping`` (a
  :class:`~claims.payments.parsers.CsvMapping` or None) and ``bank`` (a name, for ids).

Bad input raises :class:`~claims.errors.InputError` naming the file, the field and the rule; an
unknown name raises :class:`~claims.errors.UnknownName` ("did you mean …?"); a plug-in that
cannot be loaded, or is not an importer, raises :class:`~claims.errors.PluginError` naming it.

Writing one — a complete statement format for a bank's JSON export::

    # mybank/importer.py
    import json
    from datetime import date
    from decimal import Decimal

    from claims.core.importers import FileImporter
    from claims.payments.parsers import Statement, StatementLine

    class MyBankJson(FileImporter):
        name = "mybank-json"
        description = "MyBank's JSON statement export"
        suffixes = (".json",)            # identify(): only .json files …

        def matches(self, head: bytes) -> bool:
            return b'"mybank"' in head   # … whose first 4 KiB mention MyBank

        def extract(self, path, options):
            data = json.loads(self.read(path))
            lines = [StatementLine(external_id=f"mybank:{t['id']}",
                                   value_date=date.fromisoformat(t["date"]),
                                   amount=Decimal(t["amount"]), currency=t["currency"],
                                   reference=t.get("ref"))
                     for t in data["transactions"] if Decimal(t["amount"]) > 0]
            return Statement(self.name, data.get("iban"), data.get("id"), lines)

    # mybank's pyproject.toml
    [project.entry-points."claims.statement_formats"]
    mybank-json = "mybank.importer:MyBankJson"

Once it is installed, ``claims payments import stmt.json`` recognises the file and
``--format mybank-json`` names it. Any object with ``name``, ``identify`` and ``extract`` will
do (a class is instantiated without arguments); :class:`FileImporter` only gives the defaults.
Importers are tried for recognition by ``priority`` (lower first; the catch-alls are last),
then by name.
"""

from __future__ import annotations

from collections.abc import Mapping
from importlib.metadata import EntryPoint, entry_points
import stat
from pathlib import Path
from typing import Any, ClassVar, Protocol, runtime_checkable

from claims.errors import InputError, PluginError, UnknownName

#: How many leading bytes ``identify`` looks at.
HEAD_BYTES = 4096
#: The priority of an importer that does not say.
DEFAULT_PRIORITY = 100


@runtime_checkable
class Importer(Protocol):
    """What every importer has: a name, a cheap ``identify`` and ``extract``."""

    name: str

    def identify(self, path: Path) -> bool:
        """True if this importer can read ``path`` (a cheap look: extension, first bytes)."""
        ...  # pragma: no cover - a protocol

    def extract(self, path: Path, options: Mapping[str, Any]) -> Any:
        """Read ``path``; returns what the importer's group expects (see the module doc)."""
        ...  # pragma: no cover - a protocol


def regular_file(path: Path, *, field: str | None = None,
                 missing_rule: str = "file-exists") -> Path:
    """``path`` when it is a regular file (symlinks followed); else an :class:`InputError`
    naming it: missing, a folder, a FIFO or a device (reading one could wait forever)."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise InputError("file not found", file=str(path), field=field,
                         rule=missing_rule) from None
    except (OSError, ValueError) as err:
        raise InputError(f"cannot read: {getattr(err, 'strerror', None) or err}",
                         file=str(path), field=field, rule="file-readable") from None
    if stat.S_ISDIR(mode):
        raise InputError("is a folder, not a file", file=str(path), field=field,
                         rule="regular-file")
    if not stat.S_ISREG(mode):
        raise InputError("is not a regular file (a FIFO, socket or device)", file=str(path),
                         field=field, rule="regular-file")
    return path


def read_head(path: Path, size: int = HEAD_BYTES) -> bytes:
    """The first ``size`` bytes of ``path`` (OSError if it cannot be read; an
    :class:`InputError` if it is not a regular file)."""
    with regular_file(path, missing_rule="file-readable").open("rb") as fh:
        return fh.read(size)


def read_file(path: Path, *, rule: str = "readable") -> bytes:
    """All bytes of ``path``, or an :class:`InputError` naming the file and ``rule``."""
    try:
        return regular_file(path, missing_rule=rule).read_bytes()
    except OSError as err:
        raise InputError(f"cannot read: {err.strerror}", file=str(path), rule=rule) from err


class FileImporter:
    """An importer with sensible defaults: ``identify`` accepts the ``suffixes`` (any, if
    empty) whose first bytes satisfy :meth:`matches`; subclasses write :meth:`extract`."""

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    suffixes: ClassVar[tuple[str, ...]] = ()   # lower case, with the dot: (".xml",)
    priority: ClassVar[int] = DEFAULT_PRIORITY
    read_rule: ClassVar[str] = "readable"      # the rule an unreadable file breaks

    def identify(self, path: Path) -> bool:
        """True if the suffix fits and :meth:`matches` the first bytes; False if unreadable."""
        if self.suffixes and path.suffix.lower() not in self.suffixes:
            return False
        try:
            head = read_head(path)
        except OSError:
            return False
        return self.matches(head)

    def matches(self, head: bytes) -> bool:
        """True if the first bytes of a file look like this format (default: any)."""
        return True

    def read(self, path: Path) -> bytes:
        """All bytes of ``path``, or an :class:`InputError` (rule :attr:`read_rule`)."""
        return read_file(path, rule=self.read_rule)

    def extract(self, path: Path, options: Mapping[str, Any]) -> Any:
        """Read ``path``; every importer overrides this."""
        raise NotImplementedError(f"{type(self).__name__}.extract")


class Registry:
    """The importers of one entry-point group, by name; nothing is loaded until asked for."""

    def __init__(self, group: str, kind: str, *, field: str = "--format") -> None:
        self.group, self.kind, self.field = group, kind, field

    def _entry_points(self) -> dict[str, EntryPoint]:
        found: dict[str, EntryPoint] = {}
        for ep in entry_points(group=self.group):
            if ep.name in found and found[ep.name].value != ep.value:
                raise PluginError(f"registered twice (also as {found[ep.name].value})",
                                  group=self.group, name=ep.name, target=ep.value)
            found[ep.name] = ep
        return found

    def names(self) -> list[str]:
        """Every registered name, sorted (nothing is imported)."""
        return sorted(self._entry_points())

    def get(self, name: str, *, file: str | None = None, field: str | None = None) -> Importer:
        """The importer registered as ``name``; UnknownName (with a suggestion) if there is
        none, PluginError if it is broken."""
        eps = self._entry_points()
        if name not in eps:
            raise UnknownName(self.kind, name, eps, file=file, field=field or self.field)
        return self._load(eps[name])

    def all(self) -> list[Importer]:
        """Every importer, in the order they are asked to identify a file."""
        loaded = [self._load(ep) for ep in self._entry_points().values()]
        return sorted(loaded, key=lambda imp: (getattr(imp, "priority", DEFAULT_PRIORITY),
                                               imp.name))

    def identify(self, path: Path) -> Importer | None:
        """The first importer (by priority, then name) whose ``identify`` accepts ``path``."""
        for imp in self.all():
            try:
                if imp.identify(path):
                    return imp
            except Exception as err:  # noqa: BLE001 - a plug-in's bug, named below
                raise PluginError(f"identify() failed: {type(err).__name__}: {err}",
                                  group=self.group, name=imp.name,
                                  target=type(imp).__qualname__) from err
        return None

    def detect(self, path: Path) -> Importer:
        """Like :meth:`identify`, but an :class:`InputError` if no importer recognises it."""
        found = self.identify(path)
        if found is None:
            raise InputError(f"no {self.kind} recognises this file; name one with "
                             f"{self.field} ({', '.join(self.names())})", file=str(path),
                             field=self.field, rule="format-detect")
        return found

    def _load(self, ep: EntryPoint) -> Importer:
        try:
            obj = ep.load()
            imp = obj() if isinstance(obj, type) else obj
        except Exception as err:  # noqa: BLE001 - whatever a broken plug-in raises
            raise PluginError(f"cannot be loaded: {type(err).__name__}: {err}",
                              group=self.group, name=ep.name, target=ep.value) from err
        if not (callable(getattr(imp, "identify", None))
                and callable(getattr(imp, "extract", None))):
            raise PluginError("is not an importer: it needs identify(path) and "
                              "extract(path, options)", group=self.group, name=ep.name,
                              target=ep.value)
        declared = getattr(imp, "name", "") or ""
        if not declared:
            imp.name = ep.name
        elif declared != ep.name:
            raise PluginError(f"calls itself {declared!r}; the entry point name must be the "
                              "importer's name", group=self.group, name=ep.name,
                              target=ep.value)
        return imp


#: Invoice files: e-invoices, accounting exports, Claimwright's own invoice files.
INVOICE_SOURCES = Registry("claims.invoice_sources", "invoice format")
#: Bank statements.
STATEMENT_FORMATS = Registry("claims.statement_formats", "format")

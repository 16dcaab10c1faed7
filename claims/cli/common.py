"""What every CLI command shares: the workspace, JSON output, one clean error line.

Exit codes (documented in the README):

- 0: done, nothing failed
- 1: an expected failure: bad input, error findings, a refused action, some items failed
- 2: usage error (unknown option, missing argument)
- 3: the portal could not be reached (status sync, submit)
"""

from __future__ import annotations

import csv
import io
import json
import logging
import os
import signal
import subprocess
import sys
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from collections.abc import Sequence
from typing import Any

import click
import structlog
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from typer.core import TyperGroup

from claims.api import (
    AmountOutOfRange, ClaimsError, InputError, PortalError, UnknownName, Workspace,
    find_workspace, to_decimal,
)
# the one reading of dates and moments, re-exported for the commands (claims.core.moments)
from claims.api import parse_date, parse_moment  # noqa: F401

#: Piped or redirected, tables are never cut to 80 columns: a line is as wide as it needs.
PIPED_WIDTH = 100_000
console = Console(width=None if sys.stdout.isatty() else PIPED_WIDTH)
err_console = Console(stderr=True)

JsonOption = typer.Option(False, "--json", help="Print machine-readable JSON (stable format).")
AsOfOption = typer.Option(None, "--as-of", help="Act as on this date (YYYY-MM-DD; default today).")
FORMATS = ("table", "json", "csv")
#: The largest id the database holds (a signed 64-bit integer): a larger one is a usage error
#: naming the argument, not the database's "out of range".
MAX_ID = 2**63 - 1

FormatOption = typer.Option(None, "--format", help="table (default), json or csv.")


def output_format(fmt: str | None, as_json: bool = False) -> str:
    """The output format a list command was asked for (``--json`` is ``--format json``); an
    unknown one is a usage error (exit 2)."""
    if fmt is not None and fmt not in FORMATS:
        raise typer.BadParameter(f"{fmt!r} is not one of {', '.join(FORMATS)}",
                                 param_hint="--format")
    if as_json and fmt not in (None, "json"):
        raise typer.BadParameter(f"--json and --format {fmt} disagree", param_hint="--format")
    return "json" if as_json else fmt or "table"


def run_server(command: Sequence[str]) -> int:
    """Run a serving child process until it ends; its exit code. A SIGTERM or SIGHUP sent to
    ``claims`` (systemd, ``kill``) is passed on to it, so stopping the command stops the
    server instead of leaving it running orphaned; Ctrl-C reaches both (one process group)."""
    proc = subprocess.Popen(list(command))

    def forward(signum: int, _frame: object) -> None:
        proc.send_signal(signum)

    old = {sig: signal.signal(sig, forward) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        while True:
            try:
                code = proc.wait()
                return 128 - code if code < 0 else code  # killed by signal N: 128 + N
            except KeyboardInterrupt:  # the child has its own SIGINT: wait for it to end
                continue
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)


def known_format(fmt: str | None, known: Sequence[str]) -> str | None:
    """``--format`` checked at the door: an unknown one is a usage error (exit 2), as the
    README's exit codes say, with the near miss named."""
    if fmt is not None and fmt not in known:
        raise typer.BadParameter(str(UnknownName("format", fmt, known)),
                                 param_hint="--format")
    return fmt


def deprecated_spelling(value: str | None, old: str | None, *, new: str, old_flag: str,
                        hint: str, required: bool = True) -> str | None:
    """One way to name a customer or an invoice across commands: the thing a command acts on
    is its argument, a filter of a list is an option (README, "Arguments"). ``old`` is the
    value given by a command's earlier spelling (``old_flag``), kept for scripts: it works,
    with a deprecation line on stderr naming ``new`` (the spelling to use). Both spellings with
    different values, or (``required``) neither, is a usage error (exit 2) naming ``hint``."""
    if old is not None:
        typer.echo(f"warning: {old_flag} is deprecated; use {new}", err=True)
        if value is not None and value != old:
            raise typer.BadParameter(f"{value!r} and {old_flag} {old!r} disagree; use {new}",
                                     param_hint=hint)
        return old
    if value is None and required:
        raise typer.BadParameter(f"missing; give {new}", param_hint=hint)
    return value


def _cell(value: Any) -> str:
    if value is None:
        return ""
    return str(_to_jsonable(value)) if isinstance(value, (Decimal, date, datetime)) else str(value)


def emit_rows(fmt: str, data: Any, rows: list[dict[str, Any]], *, empty: str = "",
              columns: list[str] | None = None) -> None:
    """Print a list: ``data`` as JSON, or ``rows`` (flat dicts, one column per key, or the
    ``columns`` named) as CSV (RFC 4180, a header line even when empty) or as a table never
    cut when piped."""
    if fmt == "json":
        emit_json(data)
        return
    columns = columns or (list(rows[0]) if rows else [])
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows([[_cell(r.get(c)) for c in columns] for r in rows])
        typer.echo(out.getvalue(), nl=False)
        return
    if not rows:
        if empty:
            typer.echo(empty)
        return
    table = Table(*columns)
    for r in rows:
        table.add_row(*(escape(_cell(r.get(c))) for c in columns))
    console.print(table)


#: ``CLAIMS_LOG_LEVEL`` names the least severe event logged (default: info when not on a
#: terminal, for cron and CI; warning on a terminal, where a person reads the output).
LOG_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING,
              "error": logging.ERROR}


def configure_logging(verbose: bool = False) -> None:
    """structlog to stderr: readable on a terminal, JSON lines otherwise (cron, CI).

    ``--verbose`` logs progress events; ``CLAIMS_LOG_LEVEL`` (debug, info, warning, error)
    sets the level outright, e.g. ``warning`` for a script that shows output to a person.
    """
    on_terminal = sys.stderr.isatty()
    level = logging.INFO if verbose or not on_terminal else logging.WARNING
    chosen = os.environ.get("CLAIMS_LOG_LEVEL", "").strip().lower()
    if chosen:
        if chosen not in LOG_LEVELS:
            raise InputError(f"{chosen!r} is not one of {', '.join(LOG_LEVELS)}",
                             field="CLAIMS_LOG_LEVEL", rule="log-level")
        level = LOG_LEVELS[chosen]
    renderer: Any = (structlog.dev.ConsoleRenderer() if on_terminal
                     else structlog.processors.JSONRenderer())
    structlog.configure(
        processors=[structlog.processors.add_log_level,
                    structlog.processors.TimeStamper(fmt="iso", utc=True), renderer],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        # resolve sys.stderr at each call: test runners and daemons swap it
        logger_factory=lambda *_: structlog.PrintLogger(file=sys.stderr),
        cache_logger_on_first_use=False,
    )


def _to_jsonable(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "value") and hasattr(value, "name"):  # enums
        return value.value
    if hasattr(value, "to_json"):
        return value.to_json()
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


#: What an import says of an updated invoice whose explicit payment terms were removed
#: (:attr:`claims.store.ImportResult.terms_removed`).
TERMS_REMOVED = ("terms removed: {number}'s issue date, total or currency changed and its "
                 "payment terms no longer fit; it falls due by the due-date rule until you give "
                 "terms again (claims followup terms {number} …)")


def shown_value(value: Any) -> str:
    """A stored field's value in an import's old → new lines (an invoice's lines counted)."""
    if isinstance(value, list):
        return f"[{len(value)} line(s)]"
    return "—" if value is None or value == "" else str(value)


def emit_json(data: Any) -> None:
    """Print ``data`` as JSON on stdout (Decimals as strings, dates ISO)."""
    typer.echo(json.dumps(data, default=_to_jsonable, indent=2, ensure_ascii=False))


def parse_amount(text: str, field: str) -> Decimal:
    """An amount option value as an exact Decimal; a clear error otherwise."""
    try:
        return to_decimal(text, field=field)
    except AmountOutOfRange as err:  # e.g. 1e400: the one reading's own words
        raise InputError(str(err).removeprefix(f"{field}: "), field=field,
                         rule="amount") from None
    except ValueError:
        raise InputError(f"{text!r} is not an amount", field=field, rule="amount") from None


def workspace_from(ctx: typer.Context) -> Workspace:
    """The workspace for this command (``--workspace``, ``CLAIMS_WORKSPACE``, or the cwd)."""
    root = ctx.find_root()
    obj = root.obj if isinstance(root.obj, dict) else {}
    if "workspace" not in obj:
        obj["workspace"] = find_workspace(obj.get("workspace_dir"))
        root.obj = obj
        root.call_on_close(obj["workspace"].close)
    ws: Workspace = obj["workspace"]
    return ws


class ClaimsGroup(TyperGroup):
    """The root group: an expected failure becomes one clear line on stderr and its exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ClaimsError as err:
            err_console.print(f"[bold red]error:[/] {escape(str(err))}", highlight=False,
                              soft_wrap=True)
            raise typer.Exit(err.exit_code) from None
        except PortalError as err:
            err_console.print(f"[bold red]portal error:[/] {escape(str(err))}", highlight=False,
                              soft_wrap=True)
            raise typer.Exit(getattr(err, "exit_code", 1)) from None


"""What every CLI command shares: the workspace, JSON output, one clean error line.

Exit codes (documented in the README):

- 0: done, nothing failed
- 1: an expected failure: bad input, error findings, a refused action, some items failed
- 2: usage error (unknown option, missing argument)
- 3: the portal could not be reached (status sync, submit)
"""

from __future__ import annotations

import json
import logging
import os
import sys
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import click
import structlog
import typer
from rich.console import Console
from rich.markup import escape
from typer.core import TyperGroup

from claims.api import ClaimsError, InputError, PortalError, Workspace, find_workspace, to_decimal

console = Console()
err_console = Console(stderr=True)

JsonOption = typer.Option(False, "--json", help="Print machine-readable JSON (stable format).")


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


def emit_json(data: Any) -> None:
    """Print ``data`` as JSON on stdout (Decimals as strings, dates ISO)."""
    typer.echo(json.dumps(data, default=_to_jsonable, indent=2, ensure_ascii=False))


#: Dates a command takes: wide enough for any contract, narrow enough that date arithmetic
#: (ageing buckets, due dates, periods) can never leave the calendar.
EARLIEST_DATE, LATEST_DATE = date(1900, 1, 1), date(2999, 12, 31)


def parse_date(text: str | None, field: str) -> date | None:
    """A YYYY-MM-DD option value as a date (None stays None); a clear error otherwise,
    also for a date outside 1900-01-01 … 2999-12-31."""
    if text is None:
        return None
    try:
        value = date.fromisoformat(text.strip())
    except ValueError:
        raise InputError(f"{text!r} is not a date (YYYY-MM-DD)", field=field,
                         rule="iso-date") from None
    if not EARLIEST_DATE <= value <= LATEST_DATE:
        raise InputError(f"{text!r} is outside {EARLIEST_DATE} … {LATEST_DATE}", field=field,
                         rule="date-range")
    return value


def parse_amount(text: str, field: str) -> Decimal:
    """An amount option value as an exact Decimal; a clear error otherwise."""
    try:
        return to_decimal(text)
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


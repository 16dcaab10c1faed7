"""``claims serve`` (the web workspace) and ``claims user`` (its local accounts)."""

from __future__ import annotations

from pathlib import Path

import typer

from claims import api
from claims.cli.common import JsonOption, emit_json, run_server, workspace_from

user_app = typer.Typer(no_args_is_help=True, help="Local accounts of the web workspace.")


@user_app.command("add")
def user_add(ctx: typer.Context, name: str = typer.Argument(..., metavar="NAME"),
             role: str = typer.Option(..., "--role", help="specialist, auditor or admin."),
             password_file: Path = typer.Option(None, "--password-file",
                                                help="Read the password from this file's first "
                                                     "line (else it is asked for)."),
             as_json: bool = JsonOption) -> None:
    """Add a person who signs in to `claims serve`.

    Example: claims user add amira --role specialist
    """
    password = _read_password(password_file)
    user = api.add_user(workspace_from(ctx), name, role=role, password=password)
    if as_json:
        emit_json({"name": user.name, "role": user.role})
    else:
        typer.echo(f"user {user.name} added ({user.role})")


def _read_password(password_file: Path | None) -> str:
    """The first line of ``password_file``, else asked for (twice, hidden)."""
    if password_file is None:
        return str(typer.prompt("Password", hide_input=True, confirmation_prompt=True))
    return api.read_password_file(password_file)


@user_app.command("disable")
def user_disable(ctx: typer.Context, name: str = typer.Argument(..., metavar="NAME"),
                 as_json: bool = JsonOption) -> None:
    """Disable an account (acting as an admin: CLAIMS_ACTOR names one; never your own).

    Example: CLAIMS_ACTOR=ada claims user disable bob
    """
    user = api.disable_user(workspace_from(ctx), name)
    if as_json:
        emit_json({"name": user.name, "role": user.role, "active": False})
    else:
        typer.echo(f"user {user.name} disabled")


@user_app.command("password")
def user_password(ctx: typer.Context, name: str = typer.Argument(..., metavar="NAME"),
                  password_file: Path = typer.Option(None, "--password-file",
                                                     help="Read the new password from this "
                                                          "file's first line (else asked)."),
                  as_json: bool = JsonOption) -> None:
    """Set a new password for an account (acting as an admin: CLAIMS_ACTOR names one).

    Example: CLAIMS_ACTOR=ada claims user password bob --password-file new.txt
    """
    user = api.change_password(workspace_from(ctx), name, _read_password(password_file))
    if as_json:
        emit_json({"name": user.name, "password_changed": True})
    else:
        typer.echo(f"password of {user.name} changed")


@user_app.command("list")
def user_list(ctx: typer.Context, as_json: bool = JsonOption) -> None:
    """List the accounts of the web workspace.

    Example: claims user list --json
    """
    users = api.list_users(workspace_from(ctx))
    if as_json:
        emit_json([{"name": u.name, "role": u.role} for u in users])
        return
    for u in users:
        typer.echo(f"{u.name}  {u.role}")


def serve(ctx: typer.Context,
          host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
          port: int = typer.Option(8000, "--port", help="TCP port to listen on.")) -> None:
    """Serve the web workspace for specialists and auditors (needs claimwright\\[web]).

    Example: claims serve --port 8000
    """
    command = api.serve_command(workspace_from(ctx), host, port)
    raise typer.Exit(run_server(command))

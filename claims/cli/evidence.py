"""``claims evidence …``: verify, read, export and verify exports of the evidence archive.

Exit codes: 0 verified / done; 1 verification found problems, or an expected failure (the message
says what and where); 2 usage error.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import typer

from claims import api
from claims.cli.common import JsonOption, emit_json, parse_date, workspace_from

app = typer.Typer(no_args_is_help=True,
                  help="Evidence: verify the archive, read its log, export it for an auditor.")

# the files are checked by the API (missing, a folder, a FIFO: one line naming the option and
# the file, exit 2), not by Typer, whose usage box would name neither on one line
TrustedKey = typer.Option(None, "--trusted-key",
                          help="The public key (PEM) you were given; pins it instead of the "
                               "one stored beside the evidence.")
SavedCheckpoint = typer.Option([], "--checkpoint",
                               help="A checkpoint saved earlier (JSON, e.g. an export's "
                                    "data/ledger/checkpoint.json); the log must still be "
                                    "consistent with it. Repeatable.")


VERIFY_OPTIONS = ("--trusted-key", "--witness-key", "--checkpoint")


@contextmanager
def _option_errors() -> Iterator[None]:
    """A bad --trusted-key, --witness-key or --checkpoint is a usage error: one line, exit 2."""
    try:
        yield
    except api.InputError as err:
        if err.field not in VERIFY_OPTIONS:
            raise
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(2) from None


def _print_report(report: api.VerificationReport, as_json: bool) -> None:
    if as_json:
        emit_json(report.to_json())
    else:
        typer.echo(report.summary())
    if not report.ok:
        raise typer.Exit(1)


@app.command("verify")
def verify(ctx: typer.Context,
           claim: str = typer.Option(None, "--claim", help="Hash only this claim's files."),
           trusted_key: Path = TrustedKey, checkpoint: list[Path] = SavedCheckpoint,
           as_json: bool = JsonOption) -> None:
    """Check blobs, ledger entries, tree roots, checkpoint signatures and consistency.

    Lists every problem with what failed and where; exits 1 if there is any.

    Example: claims evidence verify --claim 12 --trusted-key auditor/signing.pub
    """
    with _option_errors():
        report = api.verify_evidence(workspace_from(ctx), claim, trusted_key=trusted_key,
                                     checkpoints=checkpoint)
    _print_report(report, as_json)


@app.command("log")
def log(ctx: typer.Context,
        claim: str = typer.Option(None, "--claim", help="Only this claim's events."),
        as_json: bool = JsonOption) -> None:
    """Print the evidence timeline, oldest first.

    Example: claims evidence log --claim 12
    """
    entries = api.evidence_log(workspace_from(ctx), claim)
    if as_json:
        emit_json([api.evidence_entry_json(e) for e in entries])
        return
    for line in api.evidence_log_lines(entries):
        typer.echo(line)
    if not entries:
        typer.echo("no evidence recorded" + (f" for claim {claim}" if claim else ""))


@app.command("export")
def export(ctx: typer.Context,
           out: Path = typer.Argument(..., help="The bag folder to create (must not exist)."),
           claim: str = typer.Option(None, "--claim", help="Export this claim's events."),
           since: str = typer.Option(None, "--from", help="First day, YYYY-MM-DD (UTC)."),
           until: str = typer.Option(None, "--to", help="Last day, YYYY-MM-DD (UTC), inclusive."),
           as_json: bool = JsonOption) -> None:
    """Write a self-contained BagIt bag for an auditor: files, events, proofs, key, index.html.

    Example: claims evidence export --claim 12 audit-claim-12
    Example: claims evidence export --from 2026-01-01 --to 2026-03-31 audit-q1
    """
    if claim is None and since is None and until is None:
        raise typer.BadParameter("give --claim ID, or --from DATE --to DATE",
                                 param_hint="--claim / --from / --to")
    path = api.export_evidence(workspace_from(ctx), out, claim=claim,
                               since=parse_date(since, "--from"),
                               until=parse_date(until, "--to"))
    if as_json:
        emit_json({"bag": str(path)})
    else:
        typer.echo(f"exported to {path} (open {path / 'data' / 'index.html'}; an auditor "
                   f"checks it with: claims evidence verify-export {path} --trusted-key "
                   f"<the signing.pub you gave them>, or python3 {path / 'verify.py'})")


@app.command("verify-export")
def verify_export(path: Path = typer.Argument(..., help="The exported bag folder."),
                  trusted_key: Path = TrustedKey, checkpoint: list[Path] = SavedCheckpoint,
                  witness_key: list[str] = typer.Option(
                      [], "--witness-key", help="A witness's verifier key (vkey) you trust: its "
                      "cosignature vouches for the checkpoint. Repeatable."),
                  trust_bag_key: bool = typer.Option(
                      False, "--trust-bag-key", help="Accept the public key inside the bag "
                      "(proves nothing about who made the bag)."),
                  as_json: bool = JsonOption) -> None:
    """Verify an exported bag offline: needs no workspace and no database.

    Without --trusted-key or --witness-key it fails as "unpinned" (exit 1) unless
    --trust-bag-key. The bag's own verify.py runs the same checks.

    Example: claims evidence verify-export audit-claim-12 --trusted-key signing.pub
    """
    with _option_errors():  # a usage error: exit 2, as verify.py's
        report = api.verify_evidence_export(path, trusted_key=trusted_key,
                                            checkpoints=checkpoint, witness_keys=witness_key,
                                            trust_bag_key=trust_bag_key)
    _print_report(report, as_json)


@app.command("checkpoint")
def checkpoint(ctx: typer.Context, as_json: bool = JsonOption) -> None:
    """Sign a checkpoint of the log now, send it to the witnesses, and print it (save it to
    check consistency later). Exits 1 when a witness refuses it (it saw another history).

    Example: claims evidence checkpoint --json > checkpoint-2026-03-31.json
    """
    signed = api.sign_checkpoint(workspace_from(ctx))
    cp = signed.checkpoint
    if as_json:
        emit_json({**cp.to_json(), "witnesses_refused": signed.refused,
                   "witnesses_unreachable": signed.unreachable})
    else:
        typer.echo(signed.summary())
        for line in signed.unreachable:
            typer.echo(f"warning: {line}", err=True)
        for line in signed.refused:
            typer.echo(f"error: {line}", err=True)
    if signed.refused:
        raise typer.Exit(1)


@app.command("vkey")
def vkey(ctx: typer.Context) -> None:
    """Print the log's verifier key (C2SP vkey): a witness trusts it with --log, a signed-note
    verifier checks checkpoints with it.

    Example: claims evidence vkey > log.vkey
    """
    typer.echo(api.log_verifier_key(workspace_from(ctx)))


witness_app = typer.Typer(no_args_is_help=True,
                          help="A witness: cosigns a log's checkpoints only after a consistency "
                               "proof from the last one it cosigned (its own process and key).")
app.add_typer(witness_app, name="witness")

WitnessState = typer.Option(..., "--state", file_okay=False,
                            help="The witness's own folder: its key, the logs it witnesses and "
                                 "what it last cosigned (created if missing).")
WitnessName = typer.Option(None, "--name", help="The witness's name (when its key is made).")


@witness_app.command("serve")
def witness_serve(state: Path = WitnessState,
                  port: int = typer.Option(..., "--port", min=0, max=65535,
                                           help="Port to listen on (0: any free port)."),
                  host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
                  log: list[str] = typer.Option([], "--log", help="A log's verifier key (from "
                                                "`claims evidence vkey`) to witness. Repeatable."),
                  name: str = WitnessName) -> None:
    """Run a witness until interrupted (C2SP tlog-witness subset: POST /add-checkpoint).

    Example: claims evidence witness serve --state /srv/witness --port 7380 --log "$(cat log.vkey)"
    """
    def ready(url: str, key: str) -> None:
        typer.echo(f"witness listening on {url}")
        typer.echo(f"verifier key: {key}")
        sys.stdout.flush()

    try:
        api.serve_witness(state, port=port, host=host, name=name, logs=log, ready=ready)
    except KeyboardInterrupt:
        typer.echo("witness stopped")


@witness_app.command("vkey")
def witness_vkey(state: Path = WitnessState, name: str = WitnessName) -> None:
    """Print the witness's verifier key (vkey): the public_key of [\\[evidence.witnesses]] in
    claims.toml, and an auditor's --witness-key.

    Example: claims evidence witness vkey --state /srv/witness
    """
    typer.echo(api.witness_verifier_key(state, name))


@witness_app.command("trust")
def witness_trust(log: list[str] = typer.Argument(..., help="Log verifier keys (vkeys)."),
                  state: Path = WitnessState) -> None:
    """Add logs to those the witness witnesses (a running witness takes them at once).

    Example: claims evidence witness trust --state /srv/witness "$(cat log.vkey)"
    """
    for origin in api.witness_trust_logs(state, log):
        typer.echo(f"witnessing {origin}")

r"""``python -m portals.sandbox``: run the sandbox portal and drive its back office.

Examples::

    python -m portals.sandbox serve --port 8765 --db /tmp/portal.db --idle-timeout 900
    python -m portals.sandbox serve --faults "latency=0.2;lost_response=final_submit*1"
    export SANDBOX_URL=http://127.0.0.1:8765 SANDBOX_BACKOFFICE_TOKEN=...
    python -m portals.sandbox backoffice add-account acme --password 'pw' --totp-secret BASE32
    python -m portals.sandbox backoffice add-contract C-2026-001 --user acme \
        --documents invoice,timesheet
    python -m portals.sandbox backoffice move CLM-2026-000001 returned --reason "unsigned"
    python -m portals.sandbox backoffice pay CLM-2026-000001 1200.00 --date 2026-03-01 \
        --reference PAY-9
    python -m portals.sandbox backoffice faults "http500=upload*1"

Exit codes: 0 ok, 1 the portal refused the request, 2 usage error.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import uvicorn

from portals.sandbox.app import PortalConfig, create_app
from portals.sandbox.faults import Faults, FaultSpecError


class BackofficeClient:
    """The back office's HTTP API (stdlib only, so the CLI and tests need nothing extra)."""

    def __init__(self, url: str, token: str, timeout: float = 30.0):  # ok: seconds
        self.url = url.rstrip("/")
        self.token = token
        self.timeout = timeout

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        """One request; raises BackofficeRefused with the portal's message on 4xx/5xx."""
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(
            self.url + path, data=data, method=method,
            headers={"X-Backoffice-Token": self.token, "Content-Type": "application/json"},
        )  # fmt: skip
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                return json.loads(resp.read() or b"null")
        except urllib.error.HTTPError as err:
            try:
                message = json.loads(err.read()).get("error", str(err))
            except ValueError:
                message = str(err)
            raise BackofficeRefused(err.code, message) from err

    def add_account(self, username: str, password: str, totp_secret: str | None) -> Any:
        """Create or reset a supplier account (unlocks it too)."""
        return self.call(
            "POST",
            "/backoffice/accounts",
            {"username": username, "password": password, "totp_secret": totp_secret},
        )

    def add_api_client(self, client_id: str, client_secret: str) -> Any:
        """Create or reset a PISTE application of the JSON API (client credentials)."""
        return self.call(
            "POST", "/backoffice/api-clients",
            {"client_id": client_id, "client_secret": client_secret},
        )  # fmt: skip

    def account(self, username: str) -> Any:
        return self.call("GET", f"/backoffice/accounts/{username}")

    def unlock(self, username: str) -> Any:
        return self.call("POST", f"/backoffice/accounts/{username}/unlock", {})

    def add_contract(
        self,
        number: str,
        username: str,
        *,
        title: str = "",
        currency: str = "EUR",
        document_types: list[str] | None = None,
    ) -> Any:
        """Create or update a contract of ``username`` requiring ``document_types``."""
        return self.call(
            "POST",
            "/backoffice/contracts",
            {
                "number": number,
                "username": username,
                "title": title,
                "currency": currency,
                "document_types": document_types or ["invoice"],
            },
        )

    def claim(self, reference: str) -> Any:
        return self.call("GET", f"/backoffice/claims/{reference}")

    def claims(self, invoice: str | None = None) -> list[dict[str, Any]]:
        query = f"?invoice={invoice}" if invoice else ""
        return self.call("GET", f"/backoffice/claims{query}")["claims"]  # type: ignore[no-any-return]

    def move(
        self,
        reference: str,
        status: str,
        *,
        reasons: list[str] | None = None,
        comment: str | None = None,
    ) -> Any:
        """Move a claim: under_review, returned (needs reasons), approved, payment_ordered,
        rejected."""
        return self.call(
            "POST",
            f"/backoffice/claims/{reference}/status",
            {"status": status, "reasons": reasons or [], "comment": comment},
        )

    def comment(self, reference: str, text: str) -> Any:
        return self.call("POST", f"/backoffice/claims/{reference}/comments", {"text": text})

    def pay(self, reference: str, amount: str, date: str, payment_reference: str) -> Any:
        """Record a (possibly partial) payment; the claim becomes paid once fully paid
        (until then it stays payment_ordered, with the amount paid so far)."""
        return self.call(
            "POST",
            f"/backoffice/claims/{reference}/payments",
            {"amount": amount, "date": date, "reference": payment_reference},
        )

    def seed_claims(self, contract: str, count: int, prefix: str = "BULK-") -> Any:
        return self.call(
            "POST",
            "/backoffice/seed-claims",
            {"contract": contract, "count": count, "prefix": prefix},
        )

    def set_faults(self, spec: str) -> Any:
        """Replace the live fault set (``""`` clears every fault)."""
        return self.call("PUT", "/backoffice/faults", {"spec": spec})

    def faults(self) -> Any:
        return self.call("GET", "/backoffice/faults")

    def set_idle_timeout(self, seconds: float) -> Any:  # ok: seconds
        """Change how long an idle session lives, at run time."""
        return self.call("PUT", "/backoffice/settings", {"idle_timeout": seconds})

    def expire_sessions(self) -> Any:
        return self.call("POST", "/backoffice/sessions/expire", {})


class BackofficeRefused(Exception):
    """The back office answered with an error; ``status`` and ``message`` from the portal."""

    def __init__(self, status: int, message: str):
        self.status = status
        self.message = message
        super().__init__(f"HTTP {status}: {message}")


def new_backoffice_token() -> str:
    """A fresh back-office token that never starts with '-', so ``--token T`` always parses."""
    return "bo-" + secrets.token_urlsafe(16)


def serve(args: argparse.Namespace) -> int:
    """Run the portal under uvicorn until stopped; returns the exit code (2: bad --faults)."""
    try:
        Faults.parse(args.faults)
    except FaultSpecError as err:
        print(f"error: --faults: {err}", file=sys.stderr)
        return 2
    token = args.backoffice_token or os.environ.get("SANDBOX_BACKOFFICE_TOKEN")
    if not token:
        token = new_backoffice_token()
        print(f"back-office token (X-Backoffice-Token): {token}", file=sys.stderr)
    config = PortalConfig(
        db_path=Path(args.db),
        backoffice_token=token,
        idle_timeout=args.idle_timeout,
        faults=args.faults or "",
        totp_period=args.totp_period,
    )
    app = create_app(config)
    print(f"sandbox portal on http://{args.host}:{args.port}/ (db {args.db})", file=sys.stderr)
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level)
    return 0


def backoffice(args: argparse.Namespace) -> int:
    token = args.token or os.environ.get("SANDBOX_BACKOFFICE_TOKEN")
    if not token:
        print("error: give --token or set SANDBOX_BACKOFFICE_TOKEN", file=sys.stderr)
        return 2
    client = BackofficeClient(args.url, token)
    cmd = args.bo_command
    try:
        if cmd == "add-account":
            result = client.add_account(args.username, args.password, args.totp_secret)
        elif cmd == "unlock":
            result = client.unlock(args.username)
        elif cmd == "add-contract":
            result = client.add_contract(
                args.number,
                args.user,
                title=args.title,
                currency=args.currency,
                document_types=args.documents.split(","),
            )
        elif cmd == "show":
            result = client.claim(args.reference)
        elif cmd == "move":
            result = client.move(
                args.reference, args.status, reasons=args.reason, comment=args.comment
            )
        elif cmd == "comment":
            result = client.comment(args.reference, args.text)
        elif cmd == "pay":
            result = client.pay(args.reference, args.amount, args.date, args.reference_)
        elif cmd == "add-api-client":
            secret = os.environ.get(args.secret_env)
            if not secret:
                print(f"error: environment variable {args.secret_env} is not set", file=sys.stderr)
                return 2
            result = client.add_api_client(args.client_id, secret)
        elif cmd == "faults":
            result = client.set_faults(args.spec) if args.spec is not None else client.faults()
        else:  # pragma: no cover - argparse enforces the choice
            return 2
    except BackofficeRefused as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except OSError as err:
        print(f"error: cannot reach the portal at {args.url}: {err}", file=sys.stderr)
        return 1
    print(json.dumps(result, indent=2))
    return 0


def _tcp_port(text: str) -> int:
    """A TCP port to listen on (argparse refuses anything else, before a file is made)."""
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a TCP port (1-65535)") from None
    if not 0 < port < 65536:
        raise argparse.ArgumentTypeError(f"{port} is not a TCP port (1-65535)")
    return port


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m portals.sandbox",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)
    s = sub.add_parser("serve", help="run the sandbox portal")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=_tcp_port, default=8765, help="1-65535")
    s.add_argument("--db", default="sandbox-portal.db", help="SQLite file (created if missing)")
    s.add_argument("--faults", default="", help='e.g. "latency=0.5;http500=upload*1"')
    s.add_argument(
        "--idle-timeout",
        type=float,
        default=900.0,
        help="seconds of inactivity before a session expires",
    )
    s.add_argument(
        "--totp-period", type=int, default=30, help="seconds a one-time code lives (default 30)"
    )
    s.add_argument(
        "--backoffice-token",
        default=None,
        help="token for X-Backoffice-Token (default: $SANDBOX_BACKOFFICE_TOKEN or random)",
    )
    s.add_argument("--log-level", default="warning")
    s.set_defaults(func=serve)

    b = sub.add_parser("backoffice", help="the agency's side: accounts, contracts, claim moves")
    b.add_argument("--url", default=os.environ.get("SANDBOX_URL", "http://127.0.0.1:8765"))
    b.add_argument("--token", default=None, help="default: $SANDBOX_BACKOFFICE_TOKEN")
    bsub = b.add_subparsers(dest="bo_command", required=True)
    x = bsub.add_parser("add-account", help="create or reset a supplier account")
    x.add_argument("username")
    x.add_argument("--password", required=True)
    x.add_argument("--totp-secret", default=None)
    x = bsub.add_parser("unlock", help="unlock a locked account")
    x.add_argument("username")
    x = bsub.add_parser("add-contract", help="create or update a contract")
    x.add_argument("number")
    x.add_argument("--user", required=True)
    x.add_argument("--title", default="")
    x.add_argument("--currency", default="EUR")
    x.add_argument("--documents", default="invoice", help="comma-separated document types")
    x = bsub.add_parser("show", help="a claim as JSON")
    x.add_argument("reference")
    x = bsub.add_parser("move", help="move a claim to a new status")
    x.add_argument("reference")
    x.add_argument(
        "status", choices=["under_review", "returned", "approved", "payment_ordered", "rejected"]
    )
    x.add_argument("--reason", action="append", default=[], help="why it is returned (repeat)")
    x.add_argument("--comment", default=None, help="a reviewer comment")
    x = bsub.add_parser("comment", help="add a reviewer comment")
    x.add_argument("reference")
    x.add_argument("text")
    x = bsub.add_parser("pay", help="record a (partial) payment")
    x.add_argument("reference")
    x.add_argument("amount")
    x.add_argument("--date", required=True)
    x.add_argument("--reference", dest="reference_", required=True)
    x = bsub.add_parser(
        "add-api-client", help="create or reset a PISTE application of the JSON API (/cpro/...)"
    )
    x.add_argument("client_id")
    x.add_argument(
        "--secret-env", required=True, help="environment variable holding the client secret"
    )
    x = bsub.add_parser("faults", help="show, or replace with SPEC, the live faults")
    x.add_argument("spec", nargs="?", default=None)
    b.set_defaults(func=backoffice)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args))

"""SMTP login only over TLS (issue 14, item 8): STARTTLS against a real aiosmtpd server with a
certificate this test makes, the login seen by the server only after the upgrade; a login in
clear text refused before any connection unless the host is a loopback address.
"""

from __future__ import annotations

import ipaddress
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from claims.collections import dunning
from claims.collections.mailer import Mailer
from claims.collections.settings import SmtpSettings, is_loopback
from claims.errors import InputError
from claims.workspace import Workspace, init_workspace
from tests.collections.conftest import Handler, add_invoices, customer, free_port, write_config

D = date
PASSWORD = "s3cret-pw"


def make_certificate(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for localhost / 127.0.0.1 (it is its own CA)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.now(UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5)).not_valid_after(now + timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


@dataclass
class Logins:
    """Every AUTH attempt the server saw: (user, password ok, connection was TLS)."""

    seen: list[tuple[str, bool, bool]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, server: Any, session: Any, envelope: Any, mechanism: str,
                 auth_data: Any) -> AuthResult:
        assert isinstance(auth_data, LoginPassword)
        user = auth_data.login.decode()
        ok = auth_data.password.decode() == PASSWORD
        with self.lock:
            self.seen.append((user, ok, session.ssl is not None))
        return AuthResult(success=ok)


@dataclass
class TlsServer:
    port: int
    handler: Handler
    logins: Logins
    ca_file: Path


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[TlsServer]:
    """aiosmtpd that demands STARTTLS before anything (require_starttls) and before AUTH
    (auth_require_tls), with a certificate made here."""
    cert, key = make_certificate(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    handler, logins, port = Handler(), Logins(), free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port, tls_context=context,
                            require_starttls=True, auth_require_tls=True,
                            authenticator=logins, server_hostname="localhost")
    controller.start()
    yield TlsServer(port, handler, logins, cert)
    controller.stop()


def smtp_config(server: TlsServer, **changes: Any) -> dict[str, Any]:
    """[followup.smtp] for the TLS server: STARTTLS, login, the test's CA trusted."""
    return {"host": "127.0.0.1", "port": server.port, "timeout_seconds": 5.0,
            "sender": "Receivables <ar@supplier.test>", "username": "ar@supplier.test",
            "password": {"env": "CLAIMS_TEST_SMTP_PASSWORD"}, "starttls": True,
            "ca_file": str(server.ca_file)} | changes


@pytest.fixture
def tls_ws(tmp_path: Path, tls_server: TlsServer,
           monkeypatch: pytest.MonkeyPatch) -> Iterator[Workspace]:
    """A SQLite workspace with one reminder due, its SMTP login through the TLS server."""
    monkeypatch.setenv("CLAIMS_TEST_SMTP_PASSWORD", PASSWORD)
    ws = init_workspace(tmp_path / "ws", database_url=f"sqlite:///{tmp_path / 'c.db'}")
    write_config(ws, None, smtp=smtp_config(tls_server))
    add_invoices(ws, "Acme Corp", [("A-1", D(2026, 1, 30), D(2026, 3, 1), "1000.00")])
    customer(ws, "Acme Corp", "ap@acme.test")
    yield ws
    ws.close()


def test_login_goes_over_starttls(tls_ws: Workspace, tls_server: TlsServer) -> None:
    result = dunning.run(tls_ws, D(2026, 3, 12))
    assert result.ok and len(result.sent) == 1, result.failed
    # the server refuses AUTH before TLS; it saw one login, on the upgraded connection
    assert tls_server.logins.seen == [("ar@supplier.test", True, True)]
    assert [m["To"] for m in tls_server.handler.messages] == ["ap@acme.test"]


def test_a_certificate_nobody_vouches_for_is_refused(
        tls_ws: Workspace, tls_server: TlsServer) -> None:
    # the system CAs do not know the test's certificate
    write_config(tls_ws, None, smtp=smtp_config(tls_server, ca_file=""))
    result = dunning.run(tls_ws, D(2026, 3, 12))
    assert len(result.failed) == 1 and "CERTIFICATE_VERIFY_FAILED" in result.failed[0]["error"]
    assert tls_server.logins.seen == [] and tls_server.handler.messages == []


def test_a_server_without_starttls_is_not_logged_into_in_clear(
        tls_ws: Workspace, tls_server: TlsServer) -> None:
    # starttls off against the loopback server: allowed by us, but this server demands TLS
    # first, so nothing is sent and the password never crossed in clear text
    write_config(tls_ws, None, smtp=smtp_config(tls_server, starttls=False))
    result = dunning.run(tls_ws, D(2026, 3, 12))
    assert len(result.failed) == 1
    assert tls_server.logins.seen == [] and tls_server.handler.messages == []


def test_login_without_tls_to_a_remote_host_is_refused_before_connecting() -> None:
    cfg = SmtpSettings(host="smtp.example.test", port=free_port(), username="ar@x.test",
                       password={"env": "UNUSED"}, starttls=False)  # type: ignore[arg-type]
    with pytest.raises(InputError) as err:
        Mailer(cfg).check_credentials()
    assert "login to smtp.example.test without TLS refused" in str(err.value)
    assert "\n" not in str(err.value)
    with pytest.raises(InputError):
        Mailer(cfg).send("a@x.test", ["b@x.test"], b"x")  # never opens a socket


def test_starttls_is_on_by_default_except_for_loopback() -> None:
    assert SmtpSettings(host="smtp.example.test").use_starttls
    assert SmtpSettings(host="10.0.0.5").use_starttls
    assert not SmtpSettings(host="127.0.0.1").use_starttls
    assert not SmtpSettings(host="localhost").use_starttls
    assert not SmtpSettings(host="smtp.example.test", ssl=True).use_starttls  # TLS already
    assert SmtpSettings(host="127.0.0.1", starttls=True).use_starttls
    assert [is_loopback(h) for h in ("127.0.0.2", "::1", "[::1]", "LOCALHOST", "10.0.0.1",
                                     "loopback.example.test")] == [
        True, True, True, True, False, False]


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_login_in_clear_to_loopback_is_allowed(tmp_path: Path) -> None:
    handler, logins, port = Handler(), Logins(), free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port, authenticator=logins,
                            auth_require_tls=False)
    controller.start()
    try:
        cfg = SmtpSettings(host="127.0.0.1", port=port, username="ar@x.test",
                           password={"file": str(_secret(tmp_path))})  # type: ignore[arg-type]
        mailer = Mailer(cfg)
        mailer.send("ar@x.test", ["b@x.test"], b"Subject: hi\r\n\r\nbody\r\n")
        mailer.close()
    finally:
        controller.stop()
    assert logins.seen == [("ar@x.test", True, False)] and len(handler.messages) == 1


def _secret(folder: Path) -> Path:
    path = folder / "pw"
    path.write_text(PASSWORD, encoding="utf-8")
    path.chmod(0o600)
    return path

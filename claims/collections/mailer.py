"""Sending follow-up mail: one SMTP connection per run, configured by ``[followup.smtp]``."""

from __future__ import annotations

import smtplib
import ssl

import structlog
from pydantic import SecretStr

from claims.collections.settings import SmtpSettings
from claims.errors import InputError

log = structlog.get_logger("claims.followup")


class Mailer:
    """One SMTP connection for a run, opened on first use; the password is resolved only here
    and never logged (smtplib's debug output stays off)."""

    def __init__(self, settings: SmtpSettings) -> None:
        self.settings = settings
        self._smtp: smtplib.SMTP | None = None
        self._password: SecretStr | None = None

    def check_credentials(self) -> None:
        """Resolve the password now, so a missing secret fails the run before anything is
        reserved (it stays in memory only, as a ``SecretStr``)."""
        cfg = self.settings
        self.check_tls()
        if cfg.username and self._password is None:
            if cfg.password is None:
                raise InputError("a username is set but no password reference",
                                 field="followup.smtp.password", rule="smtp-login")
            self._password = cfg.password.resolve("followup.smtp.password")

    def check_tls(self) -> None:
        """Refuse a login that would cross the network in clear text: with a username, the
        connection must be TLS (``ssl``) or upgraded (``starttls``) unless the host is a
        loopback address."""
        cfg = self.settings
        if cfg.username and not (cfg.ssl or cfg.use_starttls) and not cfg.loopback:
            raise InputError(f"login to {cfg.host} without TLS refused: set starttls = true "
                             "or ssl = true (clear text only to a loopback address)",
                             field="followup.smtp.starttls", rule="smtp-login-tls")

    def _tls_context(self) -> ssl.SSLContext:
        """Certificate and host name checked, against ``ca_file`` if given."""
        return ssl.create_default_context(cafile=self.settings.ca_file or None)

    def _connect(self) -> smtplib.SMTP:
        cfg = self.settings
        self.check_tls()
        try:
            smtp: smtplib.SMTP
            if cfg.ssl:
                smtp = smtplib.SMTP_SSL(cfg.host, cfg.port, timeout=cfg.timeout_seconds,
                                        context=self._tls_context())
            else:
                smtp = smtplib.SMTP(cfg.host, cfg.port, timeout=cfg.timeout_seconds)
                if cfg.use_starttls:
                    # raises SMTPNotSupportedError if the server does not offer it: no
                    # silent fallback to clear text
                    smtp.starttls(context=self._tls_context())
            if cfg.username:
                self.check_credentials()
                assert self._password is not None  # check_credentials raised otherwise
                smtp.login(cfg.username, self._password.get_secret_value())
        except smtplib.SMTPAuthenticationError as err:
            raise ConnectionFailed(f"SMTP login as {cfg.username} refused "
                                    f"({err.smtp_code})") from None
        except (smtplib.SMTPException, OSError) as err:
            raise ConnectionFailed(f"cannot reach SMTP server {cfg.host}:{cfg.port}: "
                                    f"{type(err).__name__}: {err}") from err
        return smtp

    def send(self, sender: str, recipients: list[str], raw: bytes) -> None:
        """Hand the message to the server; raises :class:`Refused` or
        :class:`ConnectionFailed`."""
        if self._smtp is None:
            self._smtp = self._connect()
        try:
            refused = self._smtp.sendmail(sender, recipients, raw)
        except smtplib.SMTPRecipientsRefused as err:
            raise Refused(f"all recipients refused: {sorted(err.recipients)}") from err
        except (smtplib.SMTPSenderRefused, smtplib.SMTPDataError) as err:
            raise Refused(f"server refused the message: {err.smtp_code} "
                           f"{err.smtp_error.decode(errors='replace')}") from err
        except (smtplib.SMTPException, OSError) as err:
            self._smtp = None  # the connection is gone; the next message reconnects
            raise ConnectionFailed(f"connection lost while sending: {type(err).__name__}: "
                                    f"{err}") from err
        if refused:
            # some recipients took it: it was sent; the refused ones are reported in the log
            log.warning("followup.recipients_refused", refused=sorted(refused))

    def close(self) -> None:
        """Say goodbye to the server, if connected."""
        if self._smtp is not None:
            try:
                self._smtp.quit()
            except (smtplib.SMTPException, OSError):
                pass  # closing a connection the server already dropped
            self._smtp = None


class Refused(Exception):
    """The server refused this message (the connection is still good)."""


class ConnectionFailed(Exception):
    """The server could not be reached, refused the login, or dropped the connection."""

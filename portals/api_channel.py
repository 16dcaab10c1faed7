"""``ChorusProAdapter``: the API channel. Files claims through a published invoicing API
(France's Chorus Pro behind the PISTE gateway) with ``httpx``, on the same never-twice core as
the browser adapters (:class:`portals.kit.StepAdapter`).

Spec followed: Chorus Pro's *Factures* and *Transverses* APIs as published (cpro-docs.choruspay.fr
"Getting started", "Soumettre une facture PDF", "Consult invoice"; communaute.chorus-pro.gouv.fr
search services) and PISTE's OAuth2 client-credentials token endpoint. The local fake that
follows it, and where it simplifies, is ``portals/sandbox/web/api.py`` (not imported here).

Steps (the kit runs them; see :mod:`portals.kit`):

=====================  ===========================================================
sign_in                ``POST {token_url}`` client credentials -> Bearer token (kept until
                       30 s before ``expires_in``)
fill                   the ``soumettre`` body from the package (no network)
attach                 ``POST /cpro/transverses/v1/ajouter/fichier`` per file (base64)
final_click            ``POST /cpro/factures/v1/soumettre`` (a 401 there was refused by the
                       gateway before the deposit: the token is renewed and the call sent once
                       more; anything else unclear is OutcomeUnknown, reconciled by lookup)
read_receipt           ``numeroFluxDepot`` (the deposit id) -> Receipt.reference
find_claim             ``POST /cpro/factures/v1/rechercher/fournisseur`` by invoice and contract
list_statuses          the same search, paged, every invoice of the account
=====================  ===========================================================

Rate limits: a 429 before the deposit is PortalUnavailable with ``retry_after`` (the kit waits
that long before retrying the step); when the gateway said no call is left
(``RateLimit-Remaining: 0``), the next call (the deposit above all) waits ``RateLimit-Reset``
(or the last ``Retry-After``) before it is sent; a 429 *on* the deposit is never retried: it is
an unknown outcome, reconciled by lookup like any other.

Credentials: the ``[portals.chorus]`` ``username`` / ``password`` are the Chorus Pro *technical
account* (sent as ``cpro-account: base64(login:password)``); the PISTE application's client id
and secret are this adapter's own settings (:class:`ChorusSettings`). Evidence: every call's
request and response bodies in the claim's ``manifest.json``, with the client secret, tokens,
``Authorization`` and ``cpro-account`` redacted and file contents replaced by size and hash.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import os
import ssl
import threading
import time
from decimal import Decimal
from pathlib import Path
from typing import Any, ClassVar

import httpx
from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from portals.base import (
    Capability,
    ExistingClaim,
    PortalLimits,
    PortalStatus,
    Receipt,
    StatusReport,
    SubmissionPackage,
)
from portals.errors import (
    AccountLocked,
    AlreadySubmitted,
    AuthenticationFailed,
    PortalError,
    PortalRejected,
    PortalTimeout,
    PortalUnavailable,
    SessionExpired,
)
from portals.kit import StepAdapter
from portals.recording import REDACTED, redact

#: Chorus Pro's invoice status words -> the fixed vocabulary.
CHORUS_STATUS_MAP: dict[str, PortalStatus] = {
    "DEPOSEE": PortalStatus.SUBMITTED,
    "EN_COURS_ACHEMINEMENT": PortalStatus.SUBMITTED,
    "MISE_A_DISPOSITION": PortalStatus.UNDER_REVIEW,
    "COMPLETEE": PortalStatus.UNDER_REVIEW,
    "SUSPENDUE": PortalStatus.RETURNED,
    "A_RECYCLER": PortalStatus.RETURNED,
    "SERVICE_FAIT": PortalStatus.APPROVED,
    "MANDATEE": PortalStatus.PAYMENT_ORDERED,
    "MISE_EN_PAIEMENT": PortalStatus.PAID,
    "REJETEE": PortalStatus.REJECTED,
}

#: Headers whose values never reach the evidence.
SECRET_HEADERS = ("authorization", "cpro-account")


class SecretSource(BaseModel):
    """Where a secret is: ``{ env = "NAME" }`` or ``{ file = "path" }`` (never the value)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    env: str | None = None
    file: str | None = None

    @model_validator(mode="after")
    def _one(self) -> SecretSource:
        if (self.env is None) == (self.file is None):
            raise ValueError("give exactly one of env or file")
        return self

    def resolve(self) -> SecretStr:
        """The secret's value; PortalError naming the source (not the value) when absent."""
        if self.env is not None:
            value = os.environ.get(self.env)
            if value is None:
                raise PortalError(f"environment variable {self.env} is not set", step="settings")
            return SecretStr(value)
        try:
            return SecretStr(Path(str(self.file)).expanduser().read_text(encoding="utf-8").strip())
        except OSError as err:
            raise PortalError(f"cannot read {self.file}: {err.strerror}", step="settings") from err


class ChorusSettings(BaseModel):
    """``[portals.chorus]`` keys of this adapter (beside url, username, password)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    client_id: str = Field(min_length=1, description="the PISTE application's client id")
    client_secret: SecretSource = Field(description="where the PISTE client secret is")
    token_url: str = Field("", description="OAuth token endpoint; empty: {url}/api/oauth/token")
    api_url: str = Field("", description="base of the /cpro/... calls; empty: the portal url")
    billing_frame: str = Field("A1_FACTURE_FOURNISSEUR", description="codeCadreFacturation")
    page_size: int = Field(500, ge=1, le=1000, description="invoices per search page")


def _seconds(header: str | None) -> float:
    """A ``Retry-After`` / ``RateLimit-Reset`` value in seconds (0 when absent or a date)."""
    try:
        return max(0.0, float(header or 0))  # ok: seconds
    except ValueError:
        return 0.0


def _files_for_evidence(body: Any) -> Any:
    """``body`` with base64 file contents replaced by their size and hash."""
    if isinstance(body, dict) and "pieceJointeFichier" in body:
        raw = str(body["pieceJointeFichier"])
        digest = hashlib.sha256(raw.encode()).hexdigest()[:16]
        return {**body, "pieceJointeFichier": f"<{len(raw)} base64 chars, sha256 {digest}…>"}
    return body


_TLS_LOCK = threading.Lock()
_TLS: ssl.SSLContext | None = None


def tls_context() -> ssl.SSLContext:
    """The TLS context of every API-channel client of this process, made once: httpx's default
    (certifi's CA bundle, or ``SSL_CERT_FILE`` / ``SSL_CERT_DIR`` as set when it is first made),
    certificates and host names verified. Loading the CA bundle costs tens of ms, which every
    new ``httpx.Client`` would otherwise pay again (one per adapter: per worker and run)."""
    global _TLS  # noqa: PLW0603 - one context per process, shared by the workers' clients
    with _TLS_LOCK:
        if _TLS is None:
            _TLS = httpx.create_ssl_context()
        return _TLS


class ChorusProAdapter(StepAdapter):
    """Chorus Pro (through PISTE) over ``httpx``: OAuth2 client credentials, file upload,
    invoice deposit, search. One httpx client per adapter (per worker)."""

    name: ClassVar[str] = "chorus"
    capabilities: ClassVar[frozenset[Capability]] = frozenset({Capability.BULK_STATUS_EXPORT})
    settings_model: ClassVar[type[BaseModel] | None] = ChorusSettings
    status_map = CHORUS_STATUS_MAP

    _http: httpx.Client | None = None
    _token: str | None = None
    _token_until: float = 0.0  # ok: monotonic seconds
    #: monotonic time before which the gateway said no call is left (rate limit)
    _quota_at: float = 0.0  # ok: monotonic seconds
    _body: dict[str, Any] | None = None
    #: the headers of the business calls (:meth:`_headers`) and the token they carry
    _auth: dict[str, str] | None = None
    _headers_of: str | None = None
    _answer: dict[str, Any] | None = None
    #: exchanges gathered for one evidence step (the uploads), None when not gathering
    _batch: list[dict[str, Any]] | None = None

    @property
    def options(self) -> ChorusSettings:
        """This adapter's validated settings (required)."""
        if not isinstance(self.settings, ChorusSettings):
            raise PortalError("no [portals.chorus] client_id / client_secret", portal=self.name,
                              step="settings")
        return self.settings

    @property
    def limits(self) -> PortalLimits:
        """What the deposit takes: PDF files, at most 5 per invoice, 10 MB each."""
        return PortalLimits(max_files=5, max_file_bytes=10 * 1024 * 1024,
                            allowed_extensions=(".pdf",), max_name_length=132,
                            lowercase_extensions=True, unique_names=True)

    @property
    def http(self) -> httpx.Client:
        """The adapter's httpx client (made on first use), on the process's TLS context."""
        if self._http is None:
            seconds = self.browser_options.timeout_ms / 1000  # ok: timeout seconds
            self._http = httpx.Client(base_url=self.options.api_url or self.base_url,
                                      timeout=seconds, headers={"Accept": "application/json"},
                                      verify=tls_context())
        return self._http

    def close(self) -> None:
        """Close the httpx client; safe to call twice."""
        if self._http is not None:
            self._http.close()
            self._http = None

    # -- the steps ----------------------------------------------------------------------------
    def sign_in(self) -> None:
        """A Bearer token by client credentials, unless the one held lives 30 s more."""
        if self._token is not None and time.monotonic() < self._token_until - 30:
            return
        opts = self.options
        try:
            secret = opts.client_secret.resolve().get_secret_value()
        except PortalError as err:
            err.portal = self.name  # "chorus: environment variable X is not set"
            raise
        form = {"grant_type": "client_credentials", "client_id": opts.client_id,
                "client_secret": secret, "scope": "openid"}
        url = opts.token_url or f"{self.base_url}/api/oauth/token"
        response = self.http.post(url, data=form)
        answer = self._record("token", "POST", url, form, response)
        if response.status_code in (400, 401):
            why = answer.get("error_description") or answer.get("error", response.status_code)
            kind = AccountLocked if "locked" in str(why) else AuthenticationFailed
            raise kind(f"PISTE refused the client credentials ({why})", portal=self.name,
                       step="login")
        self._raise_for(response, "login", answer)
        self._token = str(answer["access_token"])
        self._token_until = time.monotonic() + int(answer.get("expires_in", 3600))

    def fill(self, package: SubmissionPackage, resubmit_of: str | None) -> None:
        """The ``soumettre`` body, files still to be attached."""
        self._body = {
            "modeDepot": "DEPOT_PDF_API",
            "numeroFactureSaisi": package.invoice_number,
            "dateFacture": package.invoice_date.isoformat(),
            "cadreDeFacturation": {"codeCadreFacturation": self.options.billing_frame},
            "references": {"deviseFacture": package.currency, "typeFacture": "FACTURE",
                           "numeroMarche": package.contract_number},
            "montantTotal": {"montantHtTotal": str(package.net), "montantTVA": str(package.vat),
                             "montantTtcTotal": str(package.total),
                             "montantAPayer": str(package.total)},
            "periodeFacturation": {"dateDebut": package.period_start.isoformat(),
                                   "dateFin": package.period_end.isoformat()},
        }

    def attach(self, package: SubmissionPackage) -> None:
        """Upload every file (``ajouter/fichier``) and name them in the body, invoice first."""
        assert self._body is not None
        main: list[dict[str, Any]] = []
        extra: list[dict[str, Any]] = []
        self._batch = []  # the uploads go into the evidence as one step (one manifest write)
        try:
            self._upload_all(package, main, extra)
        finally:
            batch, self._batch = self._batch, None
            if batch and self.recording:
                self.evidence.note("upload", calls=batch)
        self._body["pieceJointePrincipale"] = main
        self._body["pieceJointeComplementaire"] = extra

    def _upload_all(self, package: SubmissionPackage, main: list[dict[str, Any]],
                    extra: list[dict[str, Any]]) -> None:
        """``ajouter/fichier`` for each file, invoice first; fills ``main`` and ``extra``."""
        for f in sorted(package.files, key=lambda f: f.document_type != "invoice"):
            answer = self._call("upload", "/cpro/transverses/v1/ajouter/fichier", {
                "pieceJointeFichier": base64.b64encode(f.path.read_bytes()).decode(),
                "pieceJointeNom": f.filename, "pieceJointeTypeMime": "application/pdf",
                "pieceJointeExtension": "PDF"})
            ident = int(answer["pieceJointeId"])
            if not main:
                main.append({"pieceJointePrincipaleDesignation": f.document_type,
                             "pieceJointePrincipaleId": ident})
            else:
                extra.append({"pieceJointeComplementaireDesignation": f.document_type,
                              "pieceJointeComplementaireId": ident,
                              "pieceJointeComplementaireType": "AUTRE"})

    def final_click(self, package: SubmissionPackage) -> None:
        """``soumettre``: the one irreversible call."""
        assert self._body is not None
        self._answer = None
        try:
            self._answer = self._call("final_submit", "/cpro/factures/v1/soumettre", self._body)
        except SessionExpired:
            # the gateway refused the token before the deposit: nothing was filed
            self.evidence.note("token_renewed_before_deposit")
            self._token = None
            self.sign_in()
            self._answer = self._call("final_submit", "/cpro/factures/v1/soumettre", self._body)

    def read_receipt(self, package: SubmissionPackage) -> Receipt:
        """The deposit id (``numeroFluxDepot``) and the portal's answer as a Receipt."""
        answer = self._answer or {}
        reference = str(answer["numeroFluxDepot"])
        message = (f"{answer.get('libelle', '')}: invoice {answer.get('numeroFacture')} "
                   f"{answer.get('statutFacture', '')} (identifiantFactureCPP "
                   f"{answer.get('identifiantFactureCPP')})")
        return Receipt(reference=reference, submitted_at=dt.datetime.now(dt.UTC),
                       receipt_pdf=None, portal_message=message)

    def find_claim(self, contract_number: str, invoice_number: str) -> ExistingClaim | None:
        """The deposit of this invoice on this contract, by the supplier-side search."""
        with self.guarded("find"):
            self.login()
            answer = self._call("find", "/cpro/factures/v1/rechercher/fournisseur", {
                "numeroFacture": invoice_number, "numeroMarche": contract_number,
                "pageResultatDemandee": 1, "nbResultatsParPage": 10})
        for row in answer.get("listeFactures") or []:
            if row.get("numeroFacture") == invoice_number and row.get("numeroMarche") == \
                    contract_number:
                return ExistingClaim(reference=str(row["numeroFluxDepot"]),
                                     invoice_number=invoice_number,
                                     contract_number=contract_number,
                                     status=self.portal_status(row["statut"]),
                                     portal_status=row["statut"])
        return None

    def list_statuses(self) -> list[StatusReport]:
        """Every invoice of the account, page by page."""
        self.login()
        reports: list[StatusReport] = []
        page = 1
        while True:
            answer = self._call("statuses", "/cpro/factures/v1/rechercher/fournisseur", {
                "pageResultatDemandee": page, "nbResultatsParPage": self.options.page_size})
            reports.extend(self._report(row) for row in answer.get("listeFactures") or [])
            if page >= int(answer.get("pages") or 1):
                return reports
            page += 1

    def map_error(self, err: Exception, step: str) -> PortalError | None:
        """httpx's errors as portal errors."""
        if isinstance(err, httpx.TimeoutException):
            return PortalTimeout(f"timed out: {err}", portal=self.name, step=step)
        if isinstance(err, httpx.TransportError):
            return PortalUnavailable(f"network error: {err}", portal=self.name, step=step)
        if isinstance(err, (KeyError, ValueError, TypeError)):
            return PortalError(f"unexpected answer: {err!r}", portal=self.name, step=step)
        return super().map_error(err, step)

    # -- HTTP and evidence --------------------------------------------------------------------
    def _call(self, step: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """One business call with the token and technical account; errors mapped by status."""
        if self._token is None:
            raise SessionExpired("no access token", portal=self.name, step=step)
        headers = self._headers()
        wait = self._quota_at - time.monotonic()
        if wait > 0:  # the gateway's quota is spent: wait rather than be refused (the deposit!)
            if self.recording:
                self.evidence.note("rate_limit_wait", before=step, seconds=round(wait, 2))
            time.sleep(wait)  # ok: the gateway asked for it (RateLimit-Reset / Retry-After)
        response = self.http.post(path, json=body, headers=headers)
        answer = self._record(step, "POST", path, body, response, headers=headers)
        self._note_quota(response)
        self._raise_for(response, step, answer)
        return answer

    def _headers(self) -> dict[str, str]:
        """The token and technical account headers of a business call, made once per token."""
        auth = self._auth
        if auth is None or self._headers_of != self._token:
            creds = self.credentials
            account = f"{creds.username}:{creds.password.get_secret_value()}".encode()
            auth = self._auth = {"Authorization": f"Bearer {self._token}",
                                 "cpro-account": base64.b64encode(account).decode()}
            self._headers_of = self._token
        return auth

    def _note_quota(self, response: httpx.Response) -> None:
        """Remember until when the gateway has no call left for us (429 or a spent quota)."""
        left, reset = response.headers.get("ratelimit-remaining"), _seconds(
            response.headers.get("retry-after") or response.headers.get("ratelimit-reset"))
        if response.status_code == 429 or (left == "0" and reset):
            self._quota_at = time.monotonic() + (reset or 1)

    def _raise_for(self, response: httpx.Response, step: str, answer: dict[str, Any]) -> None:
        """The portal error an unsuccessful answer means (nothing for a 2xx)."""
        status = response.status_code
        if status < 300:
            return
        said = str(answer.get("libelle") or answer.get("error") or response.text[:200])
        if status == 401:
            self._token = None
            raise SessionExpired(f"access token refused: {said}", portal=self.name, step=step)
        if status == 403:
            kind = AccountLocked if "locked" in said else AuthenticationFailed
            raise kind(f"technical account refused: {said}", portal=self.name, step=step)
        if status == 429:
            raise PortalUnavailable(f"HTTP 429: {said}", status=status, portal=self.name,
                                    retry_after=_seconds(response.headers.get("retry-after"))
                                    or 1, step=step)  # fmt: skip
        if status == 409 and answer.get("numeroFluxDepot"):
            raise AlreadySubmitted(str(answer["numeroFluxDepot"]),
                                   invoice_number=self._body.get("numeroFactureSaisi")
                                   if self._body else None,
                                   contract_number=(self._body or {}).get("references", {})
                                   .get("numeroMarche"), portal=self.name, step=step)
        if status in (400, 413, 422):
            raise PortalRejected([str(m) for m in answer.get("messages") or [said]],
                                 portal=self.name, step=step)
        raise PortalUnavailable(f"HTTP {status}: {said}", status=status, portal=self.name,
                                step=step)

    def _record(self, step: str, method: str, url: str, body: Any, response: httpx.Response,
                headers: dict[str, str] | None = None) -> dict[str, Any]:
        """The answer as JSON ({} if it is not), recorded as evidence while filing."""
        try:
            answer = response.json()
        except ValueError:
            answer = {}
        if not isinstance(answer, dict):
            answer = {"value": answer}
        if self.recording:
            shown = {k: (REDACTED if k.lower() in SECRET_HEADERS else v)
                     for k, v in (headers or {}).items()}
            request = {"method": method, "url": url, "headers": shown,
                       "body": _files_for_evidence(body)}
            reply = {"status": response.status_code, "body": answer or response.text[:500]}
            if self._batch is not None:
                self._batch.append({"request": redact(request), "response": redact(reply)})
            else:
                self.evidence.exchange(step, request=request, response=reply)
        return answer

    def _report(self, row: dict[str, Any]) -> StatusReport:
        """One row of the search as a StatusReport."""
        return StatusReport(
            reference=str(row["numeroFluxDepot"]),
            invoice_number=str(row["numeroFacture"]),
            contract_number=str(row["numeroMarche"]),
            status=self.portal_status(row["statut"]),
            portal_status=row["statut"],
            status_at=dt.datetime.fromisoformat(row["dateHeureEtatCourant"])
            if row.get("dateHeureEtatCourant") else None,
            comments=list(row.get("commentaires") or []),
            paid_amount=Decimal(row["montantPaye"]) if row.get("montantPaye") else None,
            paid_date=dt.date.fromisoformat(row["datePaiement"]) if row.get("datePaiement")
            else None,
            payment_reference=row.get("referencePaiement") or None,
        )

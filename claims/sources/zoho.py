"""Zoho Books (API v3): invoices with line items and PDFs, customers with their contact persons,
customer payments — incremental by last-modified time.

Configuration, in ``claims.toml`` (secrets are *references*, resolved only when used, never
logged)::

    [invoice_import.zoho]
    data_center = "sa"                      # com, eu, in, sa, com.au, jp, ca, com.cn
    organization_id = "10234695"
    client_id = "1000.XXXX"
    client_secret = { env = "ZOHO_CLIENT_SECRET" }
    refresh_token = { env = "ZOHO_REFRESH_TOKEN" }

Requests for N listed invoices, of which D are drafts or voids, K are stored already with the
same ``last_modified_time``, O are open (a balance due) among the new or changed, C customers
not yet known, P payments: 1 token + ⌈N/200⌉ invoice pages + (N − D − K) invoice details (line
items are only in the detail) + O PDFs (``fetch_pdf = "open"``, the default) + C contacts +
⌈P/200⌉ payment pages. Drafts and voids are read from the list alone; an unchanged invoice's
status and balance come from the list too. HTTP 429 is retried after ``Retry-After`` (or an
exponential back-off) at the same request, so a run resumes where it stopped; 5xx, broken
connections and a 200 whose body is not JSON likewise (bounded by ``max_retries``); an expired
access token is refreshed once. An invoice deleted in Zoho between the listing and its detail
is skipped with a finding; one saved while the pages are read (so it moves to the end of the
sorted list and the pages shift under it) is read once, and the listing is read again from
where it moved so none is missed.

The daily budget (``daily_request_budget``, default 1,000: the Free plan's limit) is counted
in the store per UTC day and organisation (:mod:`claims.sources.budget`), every request of
every run included. A run starts only if the budget leaves room for the token, a list page and
the payment pages; before each invoice it needs to read it checks that its detail, PDF and
contact (three requests at most) fit with two kept back for the payment pages. When they do not,
it stops before that invoice: what was read is stored, the cursor stays below that invoice's
modification time (so the next run lists it again and reads it), and a ``W-ZOHO-BUDGET``
warning says how many requests were used and when the budget is there again.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import httpx
import structlog
from pydantic import SecretStr

from claims.errors import ClaimsError, InputError
from claims.sources.common import ImportFinding
from claims.sources.settings import InvoiceImportSettings, ZohoSettings
from claims.sources.zoho_records import NOT_RECEIVABLE, PAYMENT_LIST_KEYS, dec, status_of

log = structlog.get_logger("claims.sources.zoho")


def configured(section: InvoiceImportSettings) -> ZohoSettings:
    """The ``[invoice_import.zoho]`` table, or a clear error naming it when it is missing."""
    if section.zoho is None:
        raise InputError("no [invoice_import.zoho] table (organization_id, client_id, "
                         "client_secret, refresh_token)", file="claims.toml",
                         field="invoice_import.zoho", rule="zoho-settings")
    return section.zoho


class ZohoError(ClaimsError):
    """Zoho refused or failed; ``endpoint`` and ``where`` say which request, ``status`` how."""

    def __init__(self, message: str, *, endpoint: str, status: int | None = None,
                 where: str = "") -> None:
        self.endpoint, self.status, self.where = endpoint, status, where
        at = f" ({where})" if where else ""
        super().__init__(f"Zoho Books {endpoint}{at}: {message}")


class ZohoAuthError(ZohoError):
    """The refresh token / client credentials were refused: re-authorise in Zoho."""

    field = "invoice_import.zoho.refresh_token"


class ZohoGone(ZohoError):
    """Zoho says the record does not exist (code 1002): deleted since it was listed."""


class ZohoBudgetSpent(ZohoError):
    """The run's share of the daily request budget is used up: nothing more is sent today."""


#: requests one new or changed invoice may need: its detail, its PDF, its customer's contact
PER_INVOICE = 3
#: requests kept back for the customer-payment pages at the end of a run
PAYMENT_RESERVE = 2


@dataclass
class ZohoFetch:
    """What one run fetched: invoices with their details, customers, payments, counters;
    ``refreshed`` holds the status and balance of stored, unchanged invoices (from the list)."""

    invoices: list[dict[str, Any]] = field(default_factory=list)
    pdfs: dict[str, bytes] = field(default_factory=dict)
    contacts: dict[str, dict[str, Any]] = field(default_factory=dict)
    payments: list[dict[str, Any]] = field(default_factory=list)
    refreshed: dict[str, dict[str, Any]] = field(default_factory=dict)
    findings: list[ImportFinding] = field(default_factory=list)
    requests: int = 0
    retries: int = 0
    pages: int = 0
    payment_pages: int = 0
    details: int = 0
    cursor: str | None = None
    #: when the budget stopped the run: the first invoice not read, and how many listed were not
    stopped_before: dict[str, Any] | None = None
    unread: int = 0
    payments_complete: bool = True

    def minimum_requests(self, per_page: int) -> int:
        """The least number of requests the API allows for what this run needed: the token,
        the list pages, the details and PDFs it read, the contacts, the payment pages."""
        listed = len(self.invoices) + len(self.refreshed)
        return (1 + max(1, -(-listed // per_page)) + self.details + len(self.pdfs)
                + len(self.contacts) + max(1, -(-len(self.payments) // 200)))


class ZohoClient:
    """A small Zoho Books v3 client over httpx (a transport can be injected for tests)."""

    def __init__(self, settings: ZohoSettings, *, client_secret: SecretStr,
                 refresh_token: SecretStr, transport: httpx.BaseTransport | None = None,
                 sleep: Callable[[float], None] = time.sleep,  # ok: back-off, injectable
                 clock: Callable[[], float] = time.monotonic,
                 budget: int | None = None) -> None:
        self.settings = settings
        self.budget = budget     # requests this client may send (None: no limit)
        self._secret, self._refresh = client_secret, refresh_token
        self._http = httpx.Client(timeout=settings.timeout_seconds, transport=transport)
        self._token: str | None = None
        self._token_expires = 0.0
        self._api: str | None = None
        self._sleep, self._clock = sleep, clock
        self._sent: list[float] = []
        self.requests = 0
        self.retries = 0

    def close(self) -> None:
        self._http.close()

    @property
    def api_base(self) -> str | None:
        """The API base URL in use (known after the first token), for the import record."""
        return self._api

    # -- plumbing -------------------------------------------------------------------------------

    def _pace(self) -> None:
        """Stay under the per-minute limit instead of hitting 429s."""
        limit = self.settings.requests_per_minute
        if not limit:
            return
        now = self._clock()
        self._sent = [t for t in self._sent if now - t < 60]
        if len(self._sent) >= limit:
            self._sleep(60 - (now - self._sent[0]))  # ok: pacing to Zoho's published limit
        self._sent.append(self._clock())

    def _send(self, method: str, url: str, *, endpoint: str, where: str,
              **kwargs: Any) -> httpx.Response:
        """One request, retried on 429 / 5xx / connection errors with back-off."""
        attempt = 0
        while True:
            if self.budget is not None and self.requests >= self.budget:
                raise ZohoBudgetSpent(f"the daily request budget is reached ({self.requests} "
                                      "request(s) sent by this run)", endpoint=endpoint,
                                      where=where)
            self._pace()
            self.requests += 1
            try:
                resp = self._http.request(method, url, **kwargs)
            except httpx.TransportError as err:
                if attempt >= self.settings.max_retries:
                    raise ZohoError(f"cannot connect: {type(err).__name__}", endpoint=endpoint,
                                    where=where) from err
                resp = None
            if resp is not None and resp.status_code != 429 and resp.status_code < 500:
                return resp
            if attempt >= self.settings.max_retries:
                assert resp is not None
                raise ZohoError(f"HTTP {resp.status_code} after {attempt + 1} attempts; "
                                "nothing was imported, the next run starts again from the last "
                                "completed import", endpoint=endpoint,
                                status=resp.status_code, where=where)
            wait = min(2.0 ** attempt, 60.0)  # ok: seconds, not money
            if resp is not None and resp.headers.get("Retry-After", "").isdigit():
                wait = float(resp.headers["Retry-After"])  # ok: seconds, not money
            log.info("zoho.retry", endpoint=endpoint, where=where,
                     status=resp.status_code if resp is not None else None, wait=wait)
            self.retries += 1
            attempt += 1
            self._sleep(wait)  # ok: back-off that Zoho's Retry-After (or 5xx) asks for

    def _authenticate(self) -> None:
        url = f"{self.settings.accounts()}/oauth/v2/token"
        resp = self._send("POST", url, endpoint="oauth token", where="refresh", data={
            "refresh_token": self._refresh.get_secret_value(),
            "client_id": self.settings.client_id,
            "client_secret": self._secret.get_secret_value(),
            "grant_type": "refresh_token"})
        body = _json(resp, "oauth token", "refresh")
        token = body.get("access_token") if isinstance(body, dict) else None
        if resp.status_code != 200 or not token:
            reason = body.get("error", f"HTTP {resp.status_code}") if isinstance(body, dict) \
                else f"HTTP {resp.status_code}"
            raise ZohoAuthError(f"the refresh token was refused ({reason}); authorise Claimwright "
                                "again in Zoho and update the refresh_token reference",
                                endpoint="oauth token", status=resp.status_code)
        self._token = str(token)
        expires_in = float(body.get("expires_in", 3600))  # ok: seconds
        self._token_expires = self._clock() + expires_in - 60  # ok: seconds
        self._api = self.settings.api(body.get("api_domain"))

    def get(self, path: str, *, where: str = "", pdf: bool = False,
            **params: Any) -> Any:
        """GET ``path`` with the organisation, refreshing an expired token once and reading a
        200 whose body is not JSON again (at most ``max_retries`` times, with back-off)."""
        refreshed, attempt = False, 0
        while True:
            if self._token is None or self._clock() >= self._token_expires:
                self._authenticate()
            assert self._api is not None
            query = {"organization_id": self.settings.organization_id, **params}
            if pdf:
                query["accept"] = "pdf"
            endpoint = f"GET {path}"
            resp = self._send("GET", f"{self._api}{path}", endpoint=endpoint, where=where,
                              params=query,
                              headers={"Authorization": f"Zoho-oauthtoken {self._token}"})
            if resp.status_code == 401 and not refreshed:
                self._token, refreshed = None, True   # expired or revoked: refresh once
                continue
            if pdf and resp.status_code == 200:
                if not resp.content.startswith(b"%PDF"):
                    raise ZohoError("the PDF is not a PDF", endpoint=endpoint, where=where)
                return resp.content
            try:
                body = _json(resp, endpoint, where)
            except ZohoError:
                if resp.status_code != 200 or attempt >= self.settings.max_retries:
                    raise
                attempt += 1
                self._retry_after(attempt, endpoint, where, "malformed JSON")
                continue
            return _checked(resp, body, endpoint, where)

    def _retry_after(self, attempt: int, endpoint: str, where: str, why: str) -> None:
        wait = min(2.0 ** (attempt - 1), 60.0)  # ok: seconds, not money
        log.info("zoho.retry", endpoint=endpoint, where=where, reason=why, wait=wait)
        self.retries += 1
        self._sleep(wait)  # ok: back-off before reading a broken answer again

    def pages(self, path: str, keys: tuple[str, ...],
              **params: Any) -> Iterator[list[dict[str, Any]]]:
        """Each page of a list endpoint, following ``page_context.has_more_page``; the list is
        under the first of ``keys`` the answer has (Zoho's sources spell some differently)."""
        page = 1
        while True:
            body = self.get(path, where=f"page {page}", page=page, **params)
            items = next((body[k] for k in keys if isinstance(body.get(k), list)), None)
            if items is None:
                raise ZohoError(f"the answer has no {' or '.join(map(repr, keys))} list",
                                endpoint=f"GET {path}", where=f"page {page}")
            yield items
            if not (body.get("page_context") or {}).get("has_more_page"):
                return
            page += 1

    # -- the fetch ----------------------------------------------------------------------------

    def _listing(self, since: str | None, out: ZohoFetch) -> list[dict[str, Any]]:
        """The invoice list, each invoice once. One saved while the pages are read moves to
        the end of the list (it is sorted by modification) and shifts the later pages by one,
        so the list is read once more from that invoice's old position."""
        params: dict[str, Any] = {"per_page": self.settings.per_page,
                                  "sort_column": "last_modified_time", "sort_order": "A"}
        listed: dict[str, dict[str, Any]] = {}
        moved_from: list[str] = []
        for rerun in (False, True):
            if rerun:
                if not moved_from:
                    break
                params["last_modified_time"] = min(moved_from)
            elif since:
                params["last_modified_time"] = since
            for items in self.pages("/invoices", ("invoices",), **params):
                out.pages += 1
                for summary in items:
                    iid = str(summary.get("invoice_id") or "")
                    if not iid:
                        raise ZohoError("an invoice without invoice_id", endpoint="GET /invoices")
                    old = listed.get(iid)
                    if old is not None and not rerun and \
                            old.get("last_modified_time") != summary.get("last_modified_time"):
                        moved_from.append(str(old.get("last_modified_time") or ""))
                        out.findings.append(ImportFinding(
                            "W-ZOHO-RELISTED", "warning", f"invoice {summary.get('invoice_number')}"
                            " was saved in Zoho Books while the list was read; read once, at its "
                            "newest", f"Zoho invoice {iid}", "last_modified_time"))
                    listed[iid] = summary
        return sorted(listed.values(), key=lambda i: str(i.get("last_modified_time") or ""))

    def affords(self, requests: int) -> bool:
        """Whether ``requests`` more fit the budget, the payment pages' reserve kept back."""
        return self.budget is None or self.requests + requests + PAYMENT_RESERVE <= self.budget

    def fetch(self, since: str | None, *, known: dict[str, str] | None = None,
              known_customers: set[str] | frozenset[str] = frozenset()) -> ZohoFetch:
        """Invoices modified since ``since`` (Zoho time text), with details, PDFs, contacts and
        customer payments. ``known``: stored invoices (Zoho id → last_modified_time), whose
        detail is not read again when unchanged; ``known_customers``: customer ids whose
        contact is stored already. When the budget would not cover the next invoice the run
        stops before it (:attr:`ZohoFetch.stopped_before`) and the cursor stays below its
        modification time, so the next run lists it again; a budget spent on the listing
        itself raises :class:`ZohoBudgetSpent` (nothing was read)."""
        out, known = ZohoFetch(), known or {}
        done: list[str] = []
        listing = self._listing(since, out)
        for n, summary in enumerate(listing):
            iid = str(summary["invoice_id"])
            modified = str(summary.get("last_modified_time") or "")
            if summary.get("status") in NOT_RECEIVABLE:
                out.invoices.append(summary)        # the list says all a skipped one needs
            elif known.get(iid) == modified:
                out.refreshed[iid] = status_of(summary)
            else:
                read = self._detail_within_budget(iid, summary, out, known_customers) \
                    if self.affords(PER_INVOICE) else None
                if read is None:
                    out.stopped_before, out.unread = summary, len(listing) - n
                    done = [t for t in done if t < modified]
                    break
                if not read:
                    continue                        # deleted since it was listed
            done.append(modified)
        out.cursor = max([since or "", *done]) or None
        self._payments(since, out)
        out.requests, out.retries = self.requests, self.retries
        return out

    def _detail_within_budget(self, iid: str, summary: dict[str, Any], out: ZohoFetch,
                              known_customers: set[str] | frozenset[str]) -> bool | None:
        """:meth:`_detail` (False: deleted since it was listed), or None, undone, if the
        budget ran out half-way through the invoice."""
        read, details = len(out.invoices), out.details
        try:
            return self._detail(iid, summary, out, known_customers)
        except ZohoBudgetSpent:
            del out.invoices[read:]
            out.details = details
            out.pdfs.pop(iid, None)
            return None

    def _payments(self, since: str | None, out: ZohoFetch) -> None:
        """Customer payments modified since ``since``; a budget spent on them marks them
        incomplete (the caller keeps the cursor where the run started)."""
        params: dict[str, Any] = {"per_page": 200}
        if since:
            params["last_modified_time"] = since
        try:
            for items in self.pages("/customerpayments", PAYMENT_LIST_KEYS, **params):
                out.payment_pages += 1
                out.payments.extend(items)
        except ZohoBudgetSpent:
            out.payments_complete = False

    def _detail(self, iid: str, summary: dict[str, Any], out: ZohoFetch,
                known_customers: set[str] | frozenset[str]) -> bool:
        """Read one invoice's detail (and PDF, and contact); False if it was deleted."""
        where = f"invoice {iid}"
        try:
            inv = self.get(f"/invoices/{iid}", where=where).get("invoice")
            if not isinstance(inv, dict):
                raise ZohoError("the answer has no 'invoice'", endpoint="GET /invoices/{id}",
                                where=where)
            out.details += 1
            if self._wants_pdf(inv):
                out.pdfs[iid] = self.get(f"/invoices/{iid}", pdf=True, where=f"{where} PDF")
        except ZohoGone:
            out.pdfs.pop(iid, None)
            out.findings.append(ImportFinding(
                "W-ZOHO-DELETED", "warning", f"invoice {summary.get('invoice_number')} was "
                "deleted in Zoho Books while the import ran; skipped", f"Zoho invoice {iid}",
                "invoice_id"))
            return False
        out.invoices.append(inv)
        customer_id = str(inv.get("customer_id") or "")
        if customer_id and customer_id not in out.contacts and \
                customer_id not in known_customers:
            body = self.get(f"/contacts/{customer_id}", where=f"contact {customer_id}")
            out.contacts[customer_id] = body.get("contact") or {}
        return True

    def _wants_pdf(self, inv: dict[str, Any]) -> bool:
        mode = self.settings.fetch_pdf
        if not mode or inv.get("status") in NOT_RECEIVABLE:
            return False
        if mode == "open":
            return dec(inv.get("balance"), file="zoho", field="balance") > 0
        return True


def _checked(resp: httpx.Response, body: Any, endpoint: str, where: str) -> Any:
    """The body of a successful answer, or the error Zoho's ``code`` / HTTP status says."""
    if resp.status_code == 200 and isinstance(body, dict) and body.get("code") == 0:
        return body
    message = body.get("message") if isinstance(body, dict) else None
    code = body.get("code") if isinstance(body, dict) else None
    if resp.status_code == 401:
        raise ZohoAuthError(f"not authorised ({message})", endpoint=endpoint, status=401,
                            where=where)
    if resp.status_code == 404 and code == 1002:
        raise ZohoGone(str(message or "does not exist"), endpoint=endpoint, status=404,
                       where=where)
    raise ZohoError(f"HTTP {resp.status_code}: {message or 'unexpected answer'}",
                    endpoint=endpoint, status=resp.status_code, where=where)


def _json(resp: httpx.Response, endpoint: str, where: str) -> Any:
    """The body as JSON with exact decimals (Zoho sends amounts as JSON numbers)."""
    try:
        return json.loads(resp.content, parse_float=Decimal)
    except ValueError as err:
        raise ZohoError(f"HTTP {resp.status_code} with a body that is not JSON "
                        f"({len(resp.content)} bytes)", endpoint=endpoint,
                        status=resp.status_code, where=where) from err


def since_text(value: date | datetime | str | None) -> str | None:
    """Zoho's time format for a ``--since`` date (or a stored cursor as it is)."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%S%z") or value.isoformat()
    return f"{value.isoformat()}T00:00:00+0000"

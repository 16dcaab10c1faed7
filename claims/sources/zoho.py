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

Requests made for N invoices (C distinct customers, P payments), which is also the least the
API allows: 1 token + ⌈N/200⌉ invoice pages + N invoice details (line items are only in the
detail) + N PDFs + C contacts + ⌈P/200⌉ payment pages (at least one). HTTP 429 is retried after
``Retry-After`` (or an exponential back-off) at the same request, so a run resumes where it
stopped; 5xx and broken connections likewise; an expired access token is refreshed once.
"""

from __future__ import annotations

import json
import math
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
from claims.core.models import InvoiceLine
from claims.sources.common import (
    ContactRef, CustomerRef, ImportFinding, SourceInvoice, check_currency, make_invoice, money2,
    parse_iso_date,
)
from claims.sources.settings import InvoiceImportSettings, ZohoSettings

log = structlog.get_logger("claims.sources.zoho")

ZERO = Decimal(0)


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


@dataclass
class ZohoFetch:
    """What one run fetched: invoices with their details, customers, payments, counters."""

    invoices: list[dict[str, Any]] = field(default_factory=list)
    pdfs: dict[str, bytes] = field(default_factory=dict)
    contacts: dict[str, dict[str, Any]] = field(default_factory=dict)
    payments: list[dict[str, Any]] = field(default_factory=list)
    requests: int = 0
    retries: int = 0
    pages: int = 0
    payment_pages: int = 0
    cursor: str | None = None

    def minimum_requests(self, fetch_pdf: bool, per_page: int) -> int:
        """The least number of requests the API allows for what was fetched."""
        n = len(self.invoices)
        return (1 + max(1, math.ceil(n / per_page)) + n + (n if fetch_pdf else 0)
                + len(self.contacts) + max(1, math.ceil(len(self.payments) / 200)))


class ZohoClient:
    """A small Zoho Books v3 client over httpx (a transport can be injected for tests)."""

    def __init__(self, settings: ZohoSettings, *, client_secret: SecretStr,
                 refresh_token: SecretStr, transport: httpx.BaseTransport | None = None,
                 sleep: Callable[[float], None] = time.sleep,  # ok: back-off, injectable
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.settings = settings
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
        """GET ``path`` with the organisation, refreshing an expired token once."""
        for refreshed in (False, True):
            if self._token is None or self._clock() >= self._token_expires:
                self._authenticate()
            assert self._api is not None
            query = {"organization_id": self.settings.organization_id, **params}
            if pdf:
                query["accept"] = "pdf"
            resp = self._send("GET", f"{self._api}{path}", endpoint=f"GET {path}", where=where,
                              params=query,
                              headers={"Authorization": f"Zoho-oauthtoken {self._token}"})
            if resp.status_code == 401 and not refreshed:
                self._token = None            # expired or revoked: refresh once, then retry
                continue
            if pdf and resp.status_code == 200:
                if not resp.content.startswith(b"%PDF"):
                    raise ZohoError("the PDF is not a PDF", endpoint=f"GET {path}", where=where)
                return resp.content
            body = _json(resp, f"GET {path}", where)
            if resp.status_code != 200 or not isinstance(body, dict) or body.get("code") != 0:
                message = body.get("message") if isinstance(body, dict) else None
                if resp.status_code == 401:
                    raise ZohoAuthError(f"not authorised ({message})", endpoint=f"GET {path}",
                                        status=401, where=where)
                raise ZohoError(f"HTTP {resp.status_code}: {message or 'unexpected answer'}",
                                endpoint=f"GET {path}", status=resp.status_code, where=where)
            return body
        raise AssertionError("unreachable")  # pragma: no cover

    def pages(self, path: str, key: str, **params: Any) -> Iterator[list[dict[str, Any]]]:
        """Each page of a list endpoint, following ``page_context.has_more_page``."""
        page = 1
        while True:
            body = self.get(path, where=f"page {page}", page=page, **params)
            items = body.get(key)
            if not isinstance(items, list):
                raise ZohoError(f"the answer has no {key!r} list", endpoint=f"GET {path}",
                                where=f"page {page}")
            yield items
            if not (body.get("page_context") or {}).get("has_more_page"):
                return
            page += 1

    # -- the fetch ----------------------------------------------------------------------------

    def fetch(self, since: str | None) -> ZohoFetch:
        """Invoices modified since ``since`` (Zoho time text), with details, PDFs, contacts
        and customer payments."""
        out = ZohoFetch()
        params: dict[str, Any] = {"per_page": self.settings.per_page,
                                  "sort_column": "last_modified_time", "sort_order": "A"}
        if since:
            params["last_modified_time"] = since
        listed: list[dict[str, Any]] = []
        for items in self.pages("/invoices", "invoices", **params):
            out.pages += 1
            listed.extend(items)
        cursor = since
        for summary in listed:
            invoice_id = str(summary.get("invoice_id") or "")
            if not invoice_id:
                raise ZohoError("an invoice without invoice_id", endpoint="GET /invoices")
            detail = self.get(f"/invoices/{invoice_id}", where=f"invoice {invoice_id}")
            inv = detail.get("invoice")
            if not isinstance(inv, dict):
                raise ZohoError("the answer has no 'invoice'", endpoint="GET /invoices/{id}",
                                where=f"invoice {invoice_id}")
            out.invoices.append(inv)
            modified = str(inv.get("last_modified_time") or "")
            cursor = max(cursor or "", modified) or None
            if self.settings.fetch_pdf and inv.get("status") not in ("draft", "void"):
                out.pdfs[invoice_id] = self.get(f"/invoices/{invoice_id}", pdf=True,
                                                where=f"invoice {invoice_id} PDF")
            customer_id = str(inv.get("customer_id") or "")
            if customer_id and customer_id not in out.contacts:
                body = self.get(f"/contacts/{customer_id}", where=f"contact {customer_id}")
                out.contacts[customer_id] = body.get("contact") or {}
        pay_params: dict[str, Any] = {"per_page": 200}
        if since:
            pay_params["last_modified_time"] = since
        for items in self.pages("/customerpayments", "customerpayments", **pay_params):
            out.payment_pages += 1
            out.payments.extend(items)
        out.requests, out.retries, out.cursor = self.requests, self.retries, cursor
        return out


def _json(resp: httpx.Response, endpoint: str, where: str) -> Any:
    """The body as JSON with exact decimals (Zoho sends amounts as JSON numbers)."""
    try:
        return json.loads(resp.content, parse_float=Decimal)
    except ValueError as err:
        raise ZohoError(f"HTTP {resp.status_code} with a body that is not JSON "
                        f"({len(resp.content)} bytes)", endpoint=endpoint,
                        status=resp.status_code, where=where) from err


# -- mapping Zoho records to invoices -----------------------------------------------------------

def _dec(value: Any, *, file: str, field: str) -> Decimal:
    if value is None or value == "":
        return ZERO
    if isinstance(value, (Decimal, int)) and not isinstance(value, bool):
        return Decimal(value)
    if isinstance(value, str):
        try:
            return Decimal(value)
        except ArithmeticError:
            pass
    raise InputError(f"{value!r} is not an amount", file=file, field=field, rule="decimal")


def to_source_invoices(fetch: ZohoFetch, *, endpoint: str) -> tuple[list[SourceInvoice],
                                                                     list[str]]:
    """Claimwright invoices from what was fetched (drafts and voids skipped, returned apart)."""
    by_invoice = _payments_by_invoice(fetch.payments)
    items: list[SourceInvoice] = []
    skipped: list[str] = []
    for inv in fetch.invoices:
        iid = str(inv.get("invoice_id"))
        where = f"{endpoint} invoice {iid}"
        number = str(inv.get("invoice_number") or "")
        if not number:
            raise InputError("has no invoice_number", file=where, field="invoice_number",
                             rule="required-field")
        if inv.get("status") in ("draft", "void"):
            skipped.append(number)
            continue
        currency = check_currency(str(inv.get("currency_code") or ""), file=where,
                                  field="currency_code")
        lines = _lines(inv, where)
        net = sum((ln.net for ln in lines), ZERO)
        vat = _dec(inv.get("tax_total"), file=where, field="tax_total")
        total = _dec(inv.get("total"), file=where, field="total")
        findings = []
        if net + vat != total:
            findings.append(ImportFinding("E-ZOHO-TOTAL", "error",
                                          f"total {total} is not the lines {net} + tax {vat}",
                                          where, "total"))
        customer = _customer(inv, fetch.contacts)
        contract = next((str(cf.get("value")) for cf in inv.get("custom_fields") or []
                         if "contract" in str(cf.get("label", "")).lower() and cf.get("value")),
                        None)
        invoice = make_invoice(dict(
            number=number,
            issue_date=parse_iso_date(inv.get("date"), file=where, field="date"),
            due_date=parse_iso_date(inv.get("due_date"), file=where, field="due_date")
            if inv.get("due_date") else None,
            currency=currency, customer=customer.name, contract_number=contract,
            lines=lines, net=net, vat=vat, total=total, source="zoho"), file=where)
        items.append(SourceInvoice(
            invoice=invoice, origin=where, external_id=iid, customer=customer,
            document=fetch.pdfs.get(iid), document_name=f"{number}.pdf", findings=findings,
            extra={"zoho_status": inv.get("status"), "reference_number":
                   inv.get("reference_number"), "balance": str(inv.get("balance", "")),
                   "last_modified_time": inv.get("last_modified_time"),
                   "payments": by_invoice.get(number, [])}))
    return items, skipped


def _payments_by_invoice(payments: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Zoho payments by the invoice numbers they were applied to."""
    by_invoice: dict[str, list[dict[str, Any]]] = {}
    for pay in payments:
        for num in str(pay.get("invoice_numbers") or "").split(","):
            if num.strip():
                by_invoice.setdefault(num.strip(), []).append(
                    {"payment_id": pay.get("payment_id"), "date": pay.get("date"),
                     "amount": str(pay.get("amount")), "reference": pay.get("reference_number")})
    return by_invoice


def _lines(inv: dict[str, Any], where: str) -> list[InvoiceLine]:
    """The line items of a Zoho invoice, then its discount, shipping and adjustment as lines."""
    lines: list[InvoiceLine] = []
    for i, li in enumerate(inv.get("line_items") or [], start=1):
        net = _dec(li.get("item_total"), file=where, field=f"line_items[{i}].item_total")
        pct = _dec(li.get("tax_percentage"), file=where,
                   field=f"line_items[{i}].tax_percentage")
        lines.append(InvoiceLine(
            description=str(li.get("name") or li.get("description") or f"line {i}"),
            quantity=_dec(li.get("quantity"), file=where, field=f"line_items[{i}].quantity"),
            unit_price=_dec(li.get("rate"), file=where, field=f"line_items[{i}].rate"),
            net=net, vat_percent=pct, vat=money2(net * pct / 100)))
    for key, label, sign in (("discount_amount", "Discount", -1),
                             ("shipping_charge", "Shipping", 1),
                             ("adjustment", "Adjustment", 1)):
        amount = _dec(inv.get(key), file=where, field=key)
        if amount:
            lines.append(InvoiceLine(description=label, quantity=Decimal(1),
                                     unit_price=sign * amount, net=sign * amount,
                                     vat_percent=ZERO, vat=ZERO))
    return lines


def _customer(inv: dict[str, Any], contacts: dict[str, Any]) -> CustomerRef:
    """The customer of a Zoho invoice, with its contact persons."""
    contact = contacts.get(str(inv.get("customer_id") or ""), {})
    persons = tuple(
        ContactRef(name=" ".join(p for p in (cp.get("first_name"), cp.get("last_name"))
                                 if p) or str(cp.get("email") or ""),
                   email=cp.get("email") or None, phone=cp.get("phone") or None,
                   external_id=str(cp.get("contact_person_id") or "") or None)
        for cp in contact.get("contact_persons") or [])
    customer = CustomerRef(
        name=str(contact.get("company_name") or contact.get("contact_name")
                 or inv.get("customer_name") or ""),
        external_id=str(inv.get("customer_id") or "") or None,
        tax_id=contact.get("tax_reg_no") or contact.get("vat_reg_no")
        or contact.get("gst_no") or None,
        email=contact.get("email") or None, contacts=persons)
    return customer


def since_text(value: date | datetime | str | None) -> str | None:
    """Zoho's time format for a ``--since`` date (or a stored cursor as it is)."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%S%z") or value.isoformat()
    return f"{value.isoformat()}T00:00:00+0000"

"""A Zoho Books API v3 server built from Zoho's own published API description, on 127.0.0.1.

SOURCE (what this fake follows; it is NOT a copy of tests/sources/fake_zoho.py, the project's
older fake, which sent amounts as strings, SAR only, every invoice "sent", no discounts):

- Zoho Books API v3 documentation, https://www.zoho.com/books/api/v3/ : "Pagination" (lists
  under their resource key with ``page_context.page / per_page / has_more_page``, 200 by
  default), "OAuth" (refresh-token grant at the accounts server of the data centre, Canada's
  being ``accounts.zohocloud.ca``; the token answer names ``api_domain``), "Invoices" (list,
  get, ``accept=pdf``; error 1002 "Invoice does not exist."), "Contacts", "Customer Payments".
- Zoho's OpenAPI description of Books v3 (as published, and as generated into
  ballerina-platform/openapi-connectors ``openapi/zoho.books/openapi.yaml``): the customer
  payments list key ``customer_payments``, each payment naming ``invoice_number``.
- Zoho's Java SDK (``customerpayments`` list key, payments naming ``invoice_numbers``, a
  comma-separated text) — the two published shapes disagree, so the fake answers either.
- Invoice detail fields as documented: amounts are JSON *numbers*; ``line_items[].item_total``
  (after the item's own discount), ``tax_percentage``; entity-level ``discount`` ("10.00%" or
  an amount), ``discount_type``, ``is_discount_before_tax``, ``discount_total``;
  ``shipping_charge`` with ``shipping_charge_tax_percentage`` / ``shipping_charge_tax``;
  ``adjustment`` (added after tax); ``sub_total``, ``tax_total``, ``total``, ``balance``;
  statuses draft, sent, viewed, overdue, unpaid, partially_paid, paid, void; any currency.

Scripted behaviour for tests: ``badjson`` (a 200 whose body is cut short), ``delete_after_list``
(an invoice deleted between the listing and its detail), ``edit_during_list`` (an invoice saved
while the pages are read, so it moves to the end of the sorted list). Tests only.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

from .fake_zoho import CLIENT_ID, CLIENT_SECRET, ORG, REFRESH_TOKEN, tiny_pdf

STATUSES = ("draft", "sent", "viewed", "overdue", "unpaid", "partially_paid", "paid", "void")
PLACES = {"SAR": 2, "EUR": 2, "USD": 2, "KWD": 3, "JPY": 0, "CAD": 2}


def q(amount: Decimal, places: int) -> Decimal:
    return amount.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def _num(d: Decimal) -> Any:
    """A JSON number as Zoho writes it: an integer when whole, else a decimal."""
    return int(d) if d == d.to_integral_value() else float(d)  # ok: what goes on the wire


def build_invoice(i: int, *, currency: str = "SAR", status: str = "sent",
                  discount: str | None = None, before_tax: bool = True,
                  shipping: Decimal = Decimal(0), shipping_rate: Decimal = Decimal(15),
                  adjustment: Decimal = Decimal(0), rates: tuple[int, ...] = (15,),
                  customer: int = 0, modified: str | None = None) -> dict[str, Any]:
    """An invoice as Zoho computes it: tax per rate on the (discounted, if before tax) lines."""
    p = PLACES[currency]
    lines = []
    for k, rate in enumerate(rates, start=1):
        qty, price = Decimal(k + i % 3), q(Decimal("333.335") / k, p)
        lines.append({"line_item_id": f"{i}{k:02d}", "name": f"Service {k}", "quantity": qty,
                      "rate": price, "item_total": q(qty * price, p),
                      "tax_percentage": Decimal(rate), "tax_name": f"VAT {rate}"})
    sub_total = sum((li["item_total"] for li in lines), Decimal(0))
    if discount is None:
        disc = Decimal(0)
    elif discount.endswith("%"):
        disc = q(sub_total * Decimal(discount[:-1]) / 100, p)
    else:
        disc = Decimal(discount)
    tax = Decimal(0)
    for rate in sorted({li["tax_percentage"] for li in lines}):
        base = sum((li["item_total"] for li in lines if li["tax_percentage"] == rate),
                   Decimal(0))
        if before_tax and disc:
            base -= disc * base / sub_total
        tax += q(base * rate / 100, p)
    ship_tax = q(shipping * shipping_rate / 100, p)
    tax += ship_tax
    total = sub_total - disc + shipping + tax + adjustment
    paid = {"paid": total, "partially_paid": q(total / 3, p)}.get(status, Decimal(0))
    modified = modified or f"2026-03-01T{8 + i // 3600:02d}:{i // 60 % 60:02d}:{i % 60:02d}+0300"
    return {
        "invoice_id": f"46000{i:010d}", "invoice_number": f"INV-{i:05d}", "status": status,
        "date": "2026-03-01", "due_date": "2026-03-31", "currency_code": currency,
        "currency_symbol": currency, "price_precision": p,
        "customer_id": f"46001{customer:05d}", "customer_name": f"Agency {customer}",
        "reference_number": f"PO-{i}", "last_modified_time": modified,
        "created_time": "2026-03-01T08:00:00+0300",
        "custom_fields": [{"customfield_id": "1", "label": "Contract No", "value": "C-1"}],
        "line_items": lines, "sub_total": sub_total,
        "discount": discount or 0, "discount_type": "entity_level",
        "is_discount_before_tax": before_tax, "discount_total": disc,
        "discount_percent": Decimal(discount[:-1]) if discount and discount.endswith("%") else 0,
        "shipping_charge": shipping, "shipping_charge_tax_percentage": shipping_rate
        if shipping else "", "shipping_charge_tax": ship_tax,
        "adjustment": adjustment, "adjustment_description": "Adjustment",
        "tax_total": tax, "total": total, "balance": total - paid,
    }


#: the fields the invoice *list* carries (no line items: those are only in the detail)
SUMMARY = ("invoice_id", "invoice_number", "status", "date", "due_date", "currency_code",
           "customer_id", "customer_name", "reference_number", "last_modified_time",
           "created_time", "total", "balance")


@dataclass
class PublishedZoho:
    invoices: list[dict[str, Any]] = field(default_factory=list)
    contacts: dict[str, dict[str, Any]] = field(default_factory=dict)
    payments: list[dict[str, Any]] = field(default_factory=list)
    payments_key: str = "customer_payments"          # OpenAPI; "customerpayments": Java SDK
    log: list[tuple[str, str]] = field(default_factory=list)
    badjson: dict[str, int] = field(default_factory=dict)   # path prefix → times
    delete_after_list: set[str] = field(default_factory=set)    # invoice ids
    edit_during_list: dict[int, str] = field(default_factory=dict)  # after page → invoice id
    on_page: Callable[[int], None] | None = None
    tokens: set[str] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def mixed(cls, n: int, customers: int = 9, payments_key: str = "customer_payments",
              ) -> PublishedZoho:
        """``n`` invoices cycling through every status, five currencies, discounts before and
        after tax, shipping and adjustments; one payment for each paid or part-paid one."""
        fake = cls(payments_key=payments_key)
        currencies = ("SAR", "KWD", "JPY", "EUR", "USD")
        for c in range(customers):
            cid = f"46001{c:05d}"
            fake.contacts[cid] = {
                "contact_id": cid, "contact_name": f"Agency {c}", "company_name": f"Agency {c}",
                "email": f"ap{c}@agency.gov", "tax_reg_no": f"3100000000{c:05d}",
                "contact_persons": [{"contact_person_id": f"{cid}1", "first_name": "Noura",
                                     "last_name": f"Finance{c}", "email": f"finance{c}@agency.gov",
                                     "phone": "+966 11 000", "is_primary_contact": True}]}
        for i in range(1, n + 1):
            kind = i % 4
            fake.invoices.append(build_invoice(
                i, currency=currencies[i % 5], status=STATUSES[i % 8], customer=i % customers,
                discount=("10%" if kind == 1 else "25" if kind == 2 else None),
                before_tax=kind != 2, shipping=Decimal(40) if kind == 3 else Decimal(0),
                adjustment=Decimal("-1") if kind == 3 else Decimal(0),
                rates=(15, 5) if i % 6 == 0 else (15,)))
        for inv in fake.invoices:
            if inv["status"] in ("paid", "partially_paid"):
                fake.add_payment(inv, inv["total"] - inv["balance"])
        return fake

    def add_payment(self, inv: dict[str, Any], amount: Decimal) -> None:
        number = inv["invoice_number"]
        n = len(self.payments)
        pay = {"payment_id": f"9{n:08d}", "payment_number": str(n),
               "customer_id": inv["customer_id"], "customer_name": inv["customer_name"],
               "payment_mode": "banktransfer", "date": "2026-04-01", "amount": amount,
               "unused_amount": 0, "reference_number": f"TRX-{number}",
               "last_modified_time": "2026-04-01T09:00:00+0300"}
        # the OpenAPI description names one invoice_number; the Java SDK invoice_numbers
        pay["invoice_number" if self.payments_key == "customer_payments"
            else "invoice_numbers"] = number
        self.payments.append(pay)

    def count(self, prefix: str = "") -> int:
        return sum(1 for _, p in self.log if p.startswith(prefix))

    def find(self, number: str) -> dict[str, Any]:
        return next(i for i in self.invoices if i["invoice_number"] == number)


class _Handler(BaseHTTPRequestHandler):
    fake: PublishedZoho
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_message(self, *args: Any) -> None:
        pass

    def _send(self, status: int, body: Any, ctype: str = "application/json") -> None:
        data = body if isinstance(body, bytes) else json.dumps(body, default=_json_default).encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:  # noqa: N802
        fake, url = self.fake, urlparse(self.path)
        fake.log.append(("POST", url.path))
        length = int(self.headers.get("Content-Length") or 0)
        form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
        if url.path != "/oauth/v2/token" or form.get("client_id") != CLIENT_ID \
                or form.get("client_secret") != CLIENT_SECRET \
                or form.get("refresh_token") != REFRESH_TOKEN:
            return self._send(400, {"error": "invalid_client"})
        with fake._lock:
            token = f"1000.pub{len(fake.tokens) + 1}"
            fake.tokens.add(token)
        self._send(200, {"access_token": token, "api_domain": f"http://{self.headers['Host']}",
                         "token_type": "Bearer", "expires_in": 3600})

    def do_GET(self) -> None:  # noqa: N802
        fake, url = self.fake, urlparse(self.path)
        path = url.path
        fake.log.append(("GET", path))
        q_ = {k: v[0] for k, v in parse_qs(url.query).items()}
        auth = self.headers.get("Authorization", "").removeprefix("Zoho-oauthtoken ")
        if auth not in fake.tokens:
            return self._send(401, {"code": 57, "message": "You are not authorized to perform "
                                                           "this operation"})
        if q_.get("organization_id") != ORG:
            return self._send(400, {"code": 6041, "message": "Invalid organization"})
        for prefix, times in fake.badjson.items():
            if times > 0 and path.startswith(prefix):
                fake.badjson[prefix] = times - 1
                return self._send(200, b'{"code":0,"message":"success","invo')
        path = path.removeprefix("/books/v3")
        if path == "/invoices":
            return self._invoices(q_)
        if path == "/customerpayments":
            since = q_.get("last_modified_time")
            rows = [p for p in fake.payments if not since or p["last_modified_time"] >= since]
            return self._page(rows, fake.payments_key, q_)
        if path.startswith("/invoices/"):
            iid = path.rsplit("/", 1)[1]
            inv = next((i for i in fake.invoices if i["invoice_id"] == iid), None)
            if inv is None:
                return self._send(404, {"code": 1002, "message": "Invoice does not exist."})
            if q_.get("accept") == "pdf":
                return self._send(200, tiny_pdf(f"Invoice {iid}"), "application/pdf")
            return self._send(200, {"code": 0, "message": "success", "invoice": inv})
        if path.startswith("/contacts/"):
            contact = fake.contacts.get(path.rsplit("/", 1)[1])
            if contact is None:
                return self._send(404, {"code": 1002, "message": "Contact does not exist."})
            return self._send(200, {"code": 0, "message": "success", "contact": contact})
        return self._send(404, {"code": 5, "message": "Invalid URL Passed"})

    def _invoices(self, q_: dict[str, str]) -> None:
        fake = self.fake
        since = q_.get("last_modified_time")
        rows = [i for i in fake.invoices if not since or i["last_modified_time"] >= since]
        rows.sort(key=lambda i: (i["last_modified_time"], i["invoice_id"]))
        self._page([{k: i[k] for k in SUMMARY} for i in rows], "invoices", q_)
        page = int(q_.get("page", 1))
        if page in fake.edit_during_list:     # saved in Zoho while the next pages are read
            edited = fake.edit_during_list.pop(page)
            inv = next(i for i in fake.invoices if i["invoice_id"] == edited)
            inv["last_modified_time"] = "2026-03-09T12:00:00+0300"
            inv["due_date"] = "2026-04-30"
        per_page = min(int(q_.get("per_page", 200)), 200)
        if page * per_page >= len(rows):      # the listing is over: now delete as scripted
            fake.invoices = [i for i in fake.invoices
                             if i["invoice_id"] not in fake.delete_after_list]

    def _page(self, rows: list[dict[str, Any]], key: str, q_: dict[str, str]) -> None:
        page, per_page = int(q_.get("page", 1)), min(int(q_.get("per_page", 200)), 200)
        self._send(200, {"code": 0, "message": "success",
                         key: rows[(page - 1) * per_page: page * per_page],
                         "page_context": {"page": page, "per_page": per_page,
                                          "has_more_page": page * per_page < len(rows),
                                          "sort_column": "last_modified_time",
                                          "sort_order": "A"}})


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return _num(value)
    raise TypeError(type(value).__name__)


class PublishedZohoServer:
    """Runs a :class:`PublishedZoho` on 127.0.0.1:<free port> in a thread."""

    def __init__(self, fake: PublishedZoho) -> None:
        self.fake = fake
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), type("H", (_Handler,), {"fake": fake}))
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> PublishedZohoServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

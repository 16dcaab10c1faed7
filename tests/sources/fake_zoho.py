"""A fake Zoho Books (accounts + API v3) on a real HTTP port, following the published request
and response shapes: OAuth refresh-token grant, ``organization_id``, ``page`` / ``per_page`` with
``page_context.has_more_page``, ``last_modified_time`` filtering, invoice details with
``line_items``, ``accept=pdf``, contacts with ``contact_persons``, customer payments.

Faults are scripted: ``fake.fail(path_prefix, kind, times)`` with kind ``429`` (with
Retry-After), ``500``, ``badjson``, ``expire`` (the access token dies: 401 code 57).
Tests only — never shipped in the product.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

CLIENT_ID, CLIENT_SECRET = "1000.TESTCLIENT", "s3cret-client"
REFRESH_TOKEN, ORG = "1000.r3fresh", "10234695"


def tiny_pdf(text: str) -> bytes:
    """A small valid one-page PDF saying ``text`` (fast enough for 10,000 invoices)."""
    stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()
    objs = [b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
            b"/Resources << /Font << /F1 5 0 R >> >> >>",
            b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    out, offsets = b"%PDF-1.4\n", []
    for i, body in enumerate(objs, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, xref)
    return out


def make_invoice(i: int, customer: int, *, modified: str | None = None,
                 currency: str = "SAR") -> dict[str, Any]:
    # one second apart, like invoices saved one after another
    modified = modified or f"2026-03-01T{8 + i // 3600:02d}:{i // 60 % 60:02d}:{i % 60:02d}+0000"
    qty, rate = Decimal(i % 7 + 1), Decimal("125.50")
    item_total = qty * rate
    tax = (item_total * Decimal("0.15")).quantize(Decimal("0.01"))
    return {
        "invoice_id": f"98200000{i:07d}", "invoice_number": f"INV-{i:06d}", "status": "sent",
        "date": "2026-03-01", "due_date": "2026-03-31", "currency_code": currency,
        "customer_id": f"46000000{customer:05d}", "customer_name": f"Agency {customer}",
        "reference_number": f"PO-{i}", "last_modified_time": modified,
        "custom_fields": [{"label": "Contract No", "value": "C-1"}],
        "line_items": [{"line_item_id": f"{i}01", "name": "Consulting services",
                        "quantity": qty, "rate": rate, "item_total": item_total,
                        "tax_percentage": Decimal(15)}],
        "sub_total": item_total, "tax_total": tax, "total": item_total + tax,
        "balance": item_total + tax,
    }


@dataclass
class FakeZoho:
    invoices: list[dict[str, Any]] = field(default_factory=list)
    contacts: dict[str, dict[str, Any]] = field(default_factory=dict)
    payments: list[dict[str, Any]] = field(default_factory=list)
    token_lifetime: int = 3600
    log: list[tuple[str, str]] = field(default_factory=list)       # (method, path) of each hit
    faults: list[list[Any]] = field(default_factory=list)          # [prefix, kind, times]
    tokens: set[str] = field(default_factory=set)
    refresh_token: str = REFRESH_TOKEN
    _n: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _pdfs: dict[str, bytes] = field(default_factory=dict)

    @classmethod
    def with_invoices(cls, n: int, customers: int = 10, payments: int = 0) -> FakeZoho:
        fake = cls()
        for c in range(customers):
            cid = f"46000000{c:05d}"
            fake.contacts[cid] = {
                "contact_id": cid, "contact_name": f"Agency {c}", "company_name": f"Agency {c}",
                "email": f"ap{c}@agency.gov", "tax_reg_no": f"3000000000{c:05d}",
                "contact_persons": [
                    {"contact_person_id": f"{cid}1", "first_name": "Fatimah", "last_name":
                     f"Finance{c}", "email": f"finance{c}@agency.gov", "phone": "+966 11 000",
                     "is_primary_contact": True}]}
        fake.invoices = [make_invoice(i, i % customers) for i in range(1, n + 1)]
        for p in range(payments):
            inv = fake.invoices[p % n]
            fake.payments.append({"payment_id": f"77{p:06d}", "customer_id": inv["customer_id"],
                                  "invoice_numbers": inv["invoice_number"], "date": "2026-04-01",
                                  "amount": inv["total"], "reference_number": f"TRX{p}",
                                  "last_modified_time": "2026-04-01T09:00:00+0000"})
        return fake

    def fail(self, prefix: str, kind: str, times: int = 1) -> None:
        self.faults.append([prefix, kind, times])

    def count(self, prefix: str = "") -> int:
        return sum(1 for _, p in self.log if p.startswith(prefix))

    def pdf(self, invoice_id: str) -> bytes:
        if invoice_id not in self._pdfs:
            self._pdfs[invoice_id] = tiny_pdf(f"Invoice {invoice_id}")
        return self._pdfs[invoice_id]

    def modify(self, number: str, modified: str, **changes: Any) -> None:
        for inv in self.invoices:
            if inv["invoice_number"] == number:
                inv.update(changes, last_modified_time=modified)


class _Handler(BaseHTTPRequestHandler):
    fake: FakeZoho
    protocol_version = "HTTP/1.1"   # keep-alive, as the real API (and httpx) use
    disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms stalls

    def log_message(self, *args: Any) -> None:  # keep test output quiet
        pass

    def _send(self, status: int, body: Any, ctype: str = "application/json",
              headers: dict[str, str] | None = None) -> None:
        data = body if isinstance(body, bytes) else json.dumps(body, default=str).encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def _fault(self, path: str) -> bool:
        """Play the first scripted fault matching ``path``; True if it answered the request."""
        fake, kind = self.fake, None
        with fake._lock:
            for fault in fake.faults:
                if fault[2] > 0 and path.startswith(fault[0]):
                    fault[2] -= 1
                    kind = fault[1]
                    break
        if kind is None:
            return False
        if kind == "expire":          # the access token dies now; the request then gets a 401
            fake.tokens.clear()
            return False
        if kind == "429":
            self._send(429, {"code": 44, "message": "API call limit exceeded"},
                       headers={"Retry-After": "1"})
        elif kind == "500":
            self._send(500, b"<html>Internal Server Error</html>", "text/html")
        elif kind == "badjson":
            self._send(200, b'{"code":0,"invoices":[{"invoice_id": ')
        return True

    def do_POST(self) -> None:  # noqa: N802
        fake = self.fake
        url = urlparse(self.path)
        fake.log.append(("POST", url.path))
        length = int(self.headers.get("Content-Length") or 0)
        form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
        form.update({k: v[0] for k, v in parse_qs(url.query).items()})
        if self._fault(url.path):
            return
        if url.path != "/oauth/v2/token":
            return self._send(404, {"code": 5, "message": "Invalid URL"})
        if form.get("grant_type") != "refresh_token" or form.get("client_id") != CLIENT_ID \
                or form.get("client_secret") != CLIENT_SECRET:
            return self._send(400, {"error": "invalid_client"})
        if form.get("refresh_token") != fake.refresh_token:
            return self._send(400, {"error": "invalid_code"})
        with fake._lock:
            fake._n += 1
            token = f"1000.access{fake._n}"
            fake.tokens.add(token)
        host = f"http://{self.headers['Host']}"
        self._send(200, {"access_token": token, "api_domain": host, "token_type": "Bearer",
                         "expires_in": fake.token_lifetime})

    def do_GET(self) -> None:  # noqa: N802
        fake = self.fake
        url = urlparse(self.path)
        path = url.path
        if path == "/_stats":    # for a benchmark driving the server in another process
            return self._send(200, {"requests": len(fake.log), "tokens": fake.count("/oauth")})
        fake.log.append(("GET", path))
        q = {k: v[0] for k, v in parse_qs(url.query).items()}
        if self._fault(path):
            return
        auth = self.headers.get("Authorization", "")
        if not auth.startswith("Zoho-oauthtoken ") or auth.split(" ", 1)[1] not in fake.tokens:
            return self._send(401, {"code": 57,
                                    "message": "You are not authorized to perform this operation"})
        if q.get("organization_id") != ORG:
            return self._send(400, {"code": 6041, "message": "Invalid organization"})
        prefix = "/books/v3"
        if not path.startswith(prefix):
            return self._send(404, {"code": 5, "message": "Invalid URL"})
        path = path[len(prefix):]
        since = q.get("last_modified_time")
        page, per_page = int(q.get("page", 1)), int(q.get("per_page", 200))
        if path == "/invoices":
            rows = [i for i in fake.invoices if not since or i["last_modified_time"] >= since]
            rows.sort(key=lambda i: (i["last_modified_time"], i["invoice_id"]))
            return self._page(rows, "invoices", page, per_page, summary=True)
        if path == "/customerpayments":
            rows = [p for p in fake.payments if not since or p["last_modified_time"] >= since]
            return self._page(rows, "customerpayments", page, per_page)
        if path.startswith("/invoices/"):
            iid = path.rsplit("/", 1)[1]
            inv = next((i for i in fake.invoices if i["invoice_id"] == iid), None)
            if inv is None:
                return self._send(404, {"code": 1002, "message": "Invoice does not exist."})
            if q.get("accept") == "pdf":
                return self._send(200, fake.pdf(iid), "application/pdf")
            return self._send(200, {"code": 0, "message": "success", "invoice": inv})
        if path.startswith("/contacts/"):
            cid = path.rsplit("/", 1)[1]
            if cid not in fake.contacts:
                return self._send(404, {"code": 1002, "message": "Contact does not exist."})
            return self._send(200, {"code": 0, "message": "success", "contact": fake.contacts[cid]})
        return self._send(404, {"code": 5, "message": "Invalid URL"})

    def _page(self, rows: list[dict[str, Any]], key: str, page: int, per_page: int,
              summary: bool = False) -> None:
        per_page = min(per_page, 200)
        chunk = rows[(page - 1) * per_page: page * per_page]
        if summary:  # the list carries no line items: they are only in the invoice's detail
            chunk = [{k: v for k, v in r.items() if k != "line_items"} for r in chunk]
        self._send(200, {"code": 0, "message": "success", key: chunk,
                         "page_context": {"page": page, "per_page": per_page,
                                          "has_more_page": page * per_page < len(rows),
                                          "sort_column": "last_modified_time"}})


class FakeZohoServer:
    """Runs a :class:`FakeZoho` on 127.0.0.1:<free port> in a thread."""

    def __init__(self, fake: FakeZoho) -> None:
        handler = type("Handler", (_Handler,), {"fake": fake})
        self.fake = fake
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> FakeZohoServer:
        self.thread.start()
        import httpx

        httpx.get(f"{self.url}/books/v3/ping", timeout=5)  # answers (401) once it is serving
        self.fake.log.clear()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def settings_toml(self, **over: Any) -> str:
        """The ``[invoice_import.zoho]`` table pointing at this server."""
        return settings_toml(self.url, **over)


def settings_toml(url: str, **over: Any) -> str:
    """An ``[invoice_import.zoho]`` table for a fake server at ``url`` (secrets by env)."""
    values = {"data_center": "sa", "organization_id": ORG, "client_id": CLIENT_ID,
              "accounts_url": url, "api_url": "", "requests_per_minute": 0,
              "max_retries": 3, **over}
    lines = ["\n[invoice_import.zoho]"]
    for k, v in values.items():
        lines.append(f"{k} = {json.dumps(v)}")
    lines.append('client_secret = { env = "TEST_ZOHO_CLIENT_SECRET" }')
    lines.append('refresh_token = { env = "TEST_ZOHO_REFRESH_TOKEN" }')
    return "\n".join(lines) + "\n"

def main() -> None:
    """``python -m tests.sources.fake_zoho N CUSTOMERS``: serve N invoices, print the URL."""
    import sys

    n, customers = int(sys.argv[1]), int(sys.argv[2])
    server = FakeZohoServer(FakeZoho.with_invoices(n, customers=customers, payments=n // 10))
    print(server.url, flush=True)
    server.httpd.serve_forever()


if __name__ == "__main__":
    main()

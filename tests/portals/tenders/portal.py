""""Tenders": a small fake portal a third party might write to run the conformance kit on the
README's example adapter (``## Writing an adapter``). A real web server (the standard library's
``ThreadingHTTPServer``) in a thread of the test process, reachable over HTTP by worker
processes too.

Pages: ``/login`` (user, password, single-use TOTP code: a replayed code is refused with "This
code was used already", not counted as a wrong one), ``/home``, ``/invoices/new`` (contract,
invoice number, total, one file input per document type; "Next" posts a draft), the draft's
review page with "Send" (the final click: 303 to ``/invoices/<ref>``), ``/search?invoice=``,
``/export.csv``. The kit's ``lost_response``: the claim is stored, then the connection is
closed without a word (as a crashing server does). Its back office,
``/backoffice/...`` (JSON), switches the kit's faults and tells what it holds.
"""

from __future__ import annotations

import csv
import email.parser
import email.policy
import html
import io
import json
import secrets
import threading
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pyotp


@dataclass
class State:
    username: str
    password: str
    seed: str
    period: int
    document_types: list[str]
    sessions: set[str] = field(default_factory=set)
    used_codes: set[str] = field(default_factory=set)
    failures: int = 0
    fault: str = ""
    claims: list[dict[str, Any]] = field(default_factory=list)
    drafts: dict[str, dict[str, Any]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _page(title: str, body: str) -> bytes:
    return (f"<!doctype html><html><head><title>{html.escape(title)}</title></head>"
            f"<body><h1>{html.escape(title)}</h1>{body}</body></html>").encode()


LOGIN = """<form method="post" action="/login">{alert}
<label>User <input name="user"></label>
<label>Password <input type="password" name="password"></label>
<label>Code <input name="code" inputmode="numeric"></label>
<button>Sign in</button></form>"""


class Handler(BaseHTTPRequestHandler):
    state: State  # set on the class made per server

    def log_message(self, *args: Any) -> None:  # quiet
        pass

    # -- plumbing ---------------------------------------------------------------------------
    def _send(self, status: int, body: bytes, ctype: str = "text/html; charset=utf-8",
              headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def _redirect(self, to: str, cookie: str | None = None) -> None:
        headers = {"Location": to}
        if cookie:
            headers["Set-Cookie"] = f"sid={cookie}; Path=/; HttpOnly"
        self._send(303, b"", headers=headers)

    def _session(self) -> bool:
        jar = SimpleCookie(self.headers.get("Cookie", ""))
        return "sid" in jar and jar["sid"].value in self.state.sessions

    def _body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length", "0") or 0))

    def _down(self) -> bool:
        if self.state.fault == "maintenance" and not self.path.startswith("/backoffice"):
            self._send(503, _page("Down for maintenance", "<p>Back soon.</p>"))
            return True
        return False

    # -- routes ----------------------------------------------------------------------------
    def do_GET(self) -> None:  # noqa: N802 - the standard library's name
        url = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        if url.path.startswith("/backoffice/"):
            return self._backoffice_get(url.path, query)
        if self._down():
            return None
        if url.path == "/login":
            return self._send(200, _page("Sign in", LOGIN.format(alert="")))
        if not self._session():
            return self._redirect("/login")
        if url.path == "/home":
            return self._send(200, _page("Home", "<p>Welcome.</p>"))
        if url.path == "/invoices/new":
            return self._form()
        if url.path.startswith("/drafts/"):
            return self._review(url.path.split("/")[2])
        if url.path.startswith("/invoices/"):
            ref = html.escape(url.path.rsplit("/", 1)[-1])
            return self._send(200, _page("Received", f'<p>Reference <span data-testid='
                                                     f'"reference">{ref}</span></p>'))
        if url.path == "/search":
            return self._search(query.get("invoice", ""))
        if url.path == "/export.csv":
            return self._export()
        return self._send(404, _page("Not found", ""))

    def do_POST(self) -> None:  # noqa: N802
        url = urlsplit(self.path)
        if url.path.startswith("/backoffice/"):
            return self._backoffice_post(url.path)
        if self._down():
            return None
        if url.path == "/login":
            return self._login({k: v[0] for k, v in parse_qs(self._body().decode()).items()})
        if not self._session():
            return self._redirect("/login")
        if url.path == "/drafts":
            return self._draft()
        if url.path.startswith("/drafts/") and url.path.endswith("/send"):
            return self._file(url.path.split("/")[2])
        return self._send(404, _page("Not found", ""))

    # -- pages -------------------------------------------------------------------------------
    def _login(self, form: dict[str, str]) -> None:
        st, code = self.state, form.get("code", "")
        good = pyotp.TOTP(st.seed, interval=st.period).verify(code, valid_window=1)
        with st.lock:
            if (form.get("user"), form.get("password")) != (st.username, st.password) \
                    or not good:
                st.failures += 1
                alert = "Wrong user, password or code."
            elif code in st.used_codes:
                alert = "This code was used already: wait for the next one."
            else:
                st.used_codes.add(code)
                st.failures = 0  # a lockout counter counts failures in a row
                sid = secrets.token_hex(16)
                st.sessions.add(sid)
                return self._redirect("/home", cookie=sid)
        self._send(200, _page("Sign in", LOGIN.format(alert=f'<p role="alert">{alert}</p>')))

    def _form(self) -> None:
        st = self.state
        with st.lock:
            fault, st.fault = st.fault, "" if st.fault in ("expire_mid_wizard",
                                                           "http5xx_before_final") else st.fault
            if fault == "expire_mid_wizard":
                st.sessions.clear()
        if fault == "expire_mid_wizard":
            return self._redirect("/login")
        if fault == "http5xx_before_final":
            return self._send(502, _page("Bad gateway", ""))
        files = "".join(f'<label>{html.escape(d)} <input type="file" name="doc:{html.escape(d)}">'
                        "</label>" for d in st.document_types)
        self._send(200, _page("New invoice", (
            '<form method="post" action="/drafts" enctype="multipart/form-data">'
            '<label>Contract <input name="contract"></label>'
            '<label>Invoice number <input name="invoice"></label>'
            f'<label>Total <input name="total"></label>{files}<button>Next</button></form>')))

    def _draft(self) -> None:
        st = self.state
        raw = b"Content-Type: " + self.headers["Content-Type"].encode() + b"\r\n\r\n" + self._body()
        msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(raw)
        form: dict[str, str] = {}
        files: dict[str, int] = {}
        for part in msg.iter_parts():
            name = part.get_param("name", header="content-disposition")
            if part.get_filename():
                files[part.get_filename()] = len(part.get_payload(decode=True) or b"")
            else:
                form[name] = part.get_content().strip()
        draft = secrets.token_hex(6)
        with st.lock:
            st.drafts[draft] = {**form, "files": files}
        self._redirect(f"/drafts/{draft}")

    def _review(self, draft: str) -> None:
        form = self.state.drafts.get(draft)
        if form is None:
            return self._send(404, _page("Not found", ""))
        items = "".join(f"<li>{html.escape(k)}: {html.escape(str(v))}</li>"
                        for k, v in form.items())
        return self._send(200, _page("Review", (
            f'<ul>{items}</ul><form method="post" action="/drafts/{draft}/send">'
            "<button>Send</button></form>")))

    def _file(self, draft: str) -> None:
        st = self.state
        with st.lock:
            form = st.drafts.get(draft)
            if form is None:
                return self._send(404, _page("Not found", ""))
            held = [c for c in st.claims if (c["contract"], c["invoice"])
                    == (form.get("contract"), form.get("invoice"))]
            if held and st.fault == "duplicate_check":
                ref = html.escape(held[0]["reference"])
                return self._send(200, _page("New invoice", (
                    f'<p role="alert">Filed already as <b data-testid="reference">{ref}</b></p>')))
            ref = f"TND-{len(st.claims) + 1:04d}"
            st.claims.append({"reference": ref, "contract": form.get("contract"),
                              "invoice": form.get("invoice"), "total": form.get("total"),
                              "files": form["files"], "status": "Received"})
            lost, st.fault = st.fault == "lost_response", ("" if st.fault == "lost_response"
                                                           else st.fault)
        if lost:  # stored, and the answer never comes
            self.close_connection = True
            return None
        return self._redirect(f"/invoices/{ref}")

    def _search(self, invoice: str) -> None:
        with self.state.lock:
            rows = "".join(
                f'<tr class="claim"><td>{html.escape(c["reference"])}</td>'
                f'<td>{html.escape(c["contract"])}</td><td>{html.escape(c["invoice"])}</td>'
                f'<td>{html.escape(c["status"])}</td></tr>'
                for c in self.state.claims if c["invoice"] == invoice)
        self._send(200, _page("Search", f"<table>{rows}</table>"))

    def _export(self) -> None:
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["Reference", "Contract", "Invoice", "Status"])
        with self.state.lock:
            for c in self.state.claims:
                writer.writerow([c["reference"], c["contract"], c["invoice"], c["status"]])
        self._send(200, out.getvalue().encode(), "text/csv; charset=utf-8")

    # -- back office -------------------------------------------------------------------------
    def _backoffice_get(self, path: str, query: dict[str, str]) -> None:
        st = self.state
        with st.lock:
            if path == "/backoffice/claims":
                data: Any = [c for c in st.claims
                             if not query.get("invoice") or c["invoice"] == query["invoice"]]
            else:
                data = {"failures": st.failures}
        self._send(200, json.dumps(data).encode(), "application/json")

    def _backoffice_post(self, path: str) -> None:
        body = json.loads(self._body() or b"{}")
        with self.state.lock:
            if path == "/backoffice/fault":
                self.state.fault = body["fault"]
            elif path == "/backoffice/status":
                for c in self.state.claims:
                    if c["reference"] == body["reference"]:
                        c["status"] = body["status"]
        self._send(200, b"{}", "application/json")


def serve(state: State) -> ThreadingHTTPServer:
    """The portal on a free port of 127.0.0.1, served by a daemon thread; ``shutdown()`` it."""
    handler = type("TendersHandler", (Handler,), {"state": state})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server

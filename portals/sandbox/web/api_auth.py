"""The sandbox's API gateway, shaped like PISTE (the French State's API gateway in front of
Chorus Pro): an OAuth2 *client credentials* token endpoint, Bearer tokens that expire, and the
Chorus Pro technical account sent on every call as ``cpro-account: base64(login:password)``.

Followed (public documents, read through the project's search tool):

* PISTE OAuth: ``POST /api/oauth/token`` with ``grant_type=client_credentials``, ``client_id``,
  ``client_secret``, ``scope=openid`` (form-encoded); the answer ``access_token``,
  ``token_type`` (Bearer), ``expires_in`` (3600 s by default), ``scope``; a 401
  ``invalid_client`` for bad credentials (pylegifrance "PISTE OAuth" notes; Chorus Pro
  "Getting started", cpro-docs.choruspay.fr/en/getting-started);
* Chorus Pro's second factor: every business call carries both ``Authorization: Bearer`` and
  ``cpro-account: base64(login:password)`` of a *technical account* (cpro-docs.choruspay.fr,
  "Soumettre une facture PDF" and "Consult invoice").

Simplified: one host serves the token and the business calls; PISTE applications (client id
and secret) are made through the back office (``POST /backoffice/api-clients``), kept in memory
(a restarted sandbox forgets them and every token); the technical account *is* the sandbox's
supplier account (same user name and password as the HTML portal). A wrong technical account
is a 403 (PISTE/Chorus give 401 for both; two codes let a client tell "renew the token" from
"the account is refused"). No rate limiting.

Faults (``portals.sandbox.faults``): ``http500=api_token|api_upload|api_submit|api_search|
api_consult`` answers 500 before any work; ``expire_session=<api step>`` revokes the caller's
token at that step (401 ``invalid_token``); ``maintenance`` is a 503 for every call; latency
applies per step as on the HTML pages.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from portals.sandbox import db
from portals.sandbox.web.backoffice import BackofficeError, backoffice
from portals.sandbox.web.core import Portal, portal_of

#: Token lifetime PISTE announces (``expires_in``), seconds; the back office can shorten it.
TOKEN_TTL = 3600
#: Largest JSON body an API call may send (an attachment is base64 in JSON: 10 MB + a third).
MAX_BODY = 14 * 1024 * 1024


@dataclass
class Attachment:
    """A file added with ``ajouter/fichier``, waiting to be named by an invoice."""

    account_id: int
    filename: str
    content: bytes


@dataclass
class ApiState:
    """The gateway's memory: PISTE applications, live tokens, pending attachments."""

    clients: dict[str, str] = field(default_factory=dict)  # client_id -> client_secret
    tokens: dict[str, float] = field(default_factory=dict)  # token -> expiry (monotonic s)
    token_ttl: int = TOKEN_TTL
    attachments: dict[int, Attachment] = field(default_factory=dict)
    next_attachment: int = 1
    #: sha256 of a checked cpro-account header -> (account id, password hash it matched)
    accounts: dict[str, tuple[int, str]] = field(default_factory=dict)


def api_state(request: Request) -> ApiState:
    """The gateway state of the app serving ``request`` (made on first use)."""
    state = getattr(request.app.state, "api", None)
    if state is None:
        state = request.app.state.api = ApiState()
    return state  # type: ignore[no-any-return]


class ApiRefusal(Exception):
    """An API call refused with ``status`` and a Chorus-style body (``codeRetour``, ``libelle``)."""

    def __init__(self, status: int, libelle: str, **extra: Any):
        super().__init__(libelle)
        self.status = status
        self.body = {"codeRetour": status, "libelle": libelle, **extra}


def refusal(status: int, libelle: str, **extra: Any) -> JSONResponse:
    """The JSON answer of a refused call."""
    return JSONResponse(ApiRefusal(status, libelle, **extra).body, status_code=status)


async def _faults(portal: Portal, step: str) -> Response | None:
    """Maintenance, latency and an injected 500 (before any work), as on the HTML pages."""
    faults = portal.faults
    if faults.maintenance:
        return refusal(503, "Service en maintenance / under maintenance")
    delay = faults.delay_for(step)
    if delay:
        await asyncio.sleep(delay)  # ok: injected latency is the point of this fault
    if faults.fire("http500", step):
        return refusal(500, "Erreur technique / internal server error")
    return None


async def token(request: Request) -> Response:
    """``POST /api/oauth/token``: client credentials -> a Bearer token (PISTE's shape)."""
    portal = portal_of(request)
    failed = await _faults(portal, "api_token")
    if failed is not None:
        return failed
    try:
        form = await request.form(max_part_size=64 * 1024)
    except Exception:  # noqa: BLE001 - any unreadable form is the client's error
        return JSONResponse({"error": "invalid_request"}, status_code=400)
    if form.get("grant_type") != "client_credentials":
        return JSONResponse({"error": "unsupported_grant_type"}, status_code=400)
    state = api_state(request)
    client_id, secret = str(form.get("client_id", "")), str(form.get("client_secret", ""))
    known = state.clients.get(client_id)
    if known is None or not hmac.compare_digest(known.encode(), secret.encode()):
        return JSONResponse({"error": "invalid_client"}, status_code=401)
    value = secrets.token_urlsafe(32)
    now = time.monotonic()
    state.tokens = {t: exp for t, exp in state.tokens.items() if exp > now}  # forget old ones
    state.tokens[value] = now + state.token_ttl
    return JSONResponse(
        {
            "access_token": value,
            "token_type": "Bearer",
            "expires_in": state.token_ttl,
            "scope": "openid",
        }
    )


def _bearer(request: Request, state: ApiState, step: str, portal: Portal) -> str:
    """The caller's live token; ApiRefusal 401 otherwise (also when a fault revokes it)."""
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    expiry = state.tokens.get(value) if scheme.lower() == "bearer" else None
    if expiry is None or expiry <= time.monotonic():
        state.tokens.pop(value, None)
        raise ApiRefusal(401, "invalid_token: missing, unknown or expired access token")
    if portal.faults.fire("expire_session", step):
        del state.tokens[value]
        raise ApiRefusal(401, "invalid_token: the access token has expired")
    return value


def _technical_account(request: Request, state: ApiState, portal: Portal) -> int:
    """The account named by ``cpro-account: base64(login:password)``; ApiRefusal 403 otherwise."""
    raw = request.headers.get("cpro-account", "")
    try:
        login, sep, password = base64.b64decode(raw, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        login, sep, password = "", "", ""
    refused = ApiRefusal(403, "cpro-account: technical account unknown or password refused")
    if not sep:
        raise refused
    with portal.Session() as s:
        account = s.scalar(select(db.Account).where(db.Account.username == login))
    if account is None or account.locked:
        raise refused
    key = hashlib.sha256(raw.encode()).hexdigest()
    cached = state.accounts.get(key)
    if cached == (account.id, account.password_hash):
        return account.id
    if not db.check_password(password, account.password_hash):
        raise refused
    state.accounts[key] = (account.id, account.password_hash)
    return account.id


ApiHandler = Callable[[Request, int, dict[str, Any]], Awaitable[Any]]


def api_call(step: str) -> Callable[[ApiHandler], Callable[[Request], Awaitable[Response]]]:
    """Wrap a business call: faults, Bearer token, technical account, a JSON object body.

    The handler gets ``(request, account_id, body)`` and returns the JSON answer; it raises
    ApiRefusal for a 4xx. Bad input is never a 500.
    """

    def wrap(fn: ApiHandler) -> Callable[[Request], Awaitable[Response]]:
        async def handler(request: Request) -> Response:
            portal = portal_of(request)
            failed = await _faults(portal, step)
            if failed is not None:
                return failed
            state = api_state(request)
            try:
                _bearer(request, state, step, portal)
                account = _technical_account(request, state, portal)
                body = await _json_body(request)
                result = await fn(request, account, body)
            except ApiRefusal as err:
                return JSONResponse(err.body, status_code=err.status)
            # a handler may answer itself (the lost-response fault's 502)
            return result if isinstance(result, Response) else JSONResponse(result)

        return handler

    return wrap


async def _json_body(request: Request) -> dict[str, Any]:
    """The request's JSON object, read up to MAX_BODY bytes while streaming."""
    size, chunks = 0, []
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            raise ApiRefusal(413, f"request body larger than {MAX_BODY} bytes")
        chunks.append(chunk)
    try:
        body = json.loads(b"".join(chunks) or b"{}")
    except ValueError as err:
        raise ApiRefusal(400, "the body is not JSON") from err
    if not isinstance(body, dict):
        raise ApiRefusal(400, "the body must be a JSON object")
    return body


def bo_add_client(request: Request, portal: Portal, body: dict[str, Any]) -> dict[str, Any]:
    """Create (or reset) a PISTE application: ``client_id`` and ``client_secret``."""
    client_id, secret = str(body["client_id"]), str(body["client_secret"])
    if not client_id or len(secret) < 8:
        raise BackofficeError(400, "client_id and a client_secret of 8+ characters are needed")
    api_state(request).clients[client_id] = secret
    return {"client_id": client_id}


def bo_api_settings(request: Request, portal: Portal, body: dict[str, Any]) -> dict[str, Any]:
    """Change the token lifetime (``token_ttl`` seconds) or revoke every token (``revoke``)."""
    state = api_state(request)
    if "token_ttl" in body:
        ttl = int(body["token_ttl"])
        if ttl <= 0:
            raise BackofficeError(400, "token_ttl must be positive")
        state.token_ttl = ttl
    if body.get("revoke"):
        state.tokens.clear()
    return {"token_ttl": state.token_ttl, "live_tokens": len(state.tokens)}


ROUTES = [
    Route("/api/oauth/token", token, methods=["POST"]),
    Route("/backoffice/api-clients", backoffice(bo_add_client), methods=["POST"]),
    Route("/backoffice/api-settings", backoffice(bo_api_settings), methods=["POST", "PUT"]),
]

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
"the account is refused").

Defences, like a real gateway: wrong client secrets lock the PISTE application after as many
tries as wrong passwords lock an account (``MAX_FAILED_LOGINS``; an unknown client id is counted
the same way; the back office's ``api-clients`` call resets it); a wrong technical-account
password counts on the account's own lockout, shared with the HTML sign-in (a right one resets
the count only on accounts without a one-time code, so the API cannot be used to reset a
code-guessing count); bad, unknown or expired tokens are 401, never 500; each application may
make ``rate_limit`` business calls per ``rate_period`` seconds (default: 200 a second; a burst
of as many), then gets 429 with
``Retry-After`` (seconds); every answer says ``RateLimit-Remaining`` and ``RateLimit-Reset``.

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
import math
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
from portals.sandbox.web.login import DUMMY_HASH, count_failure, count_unknown

#: Token lifetime PISTE announces (``expires_in``), seconds; the back office can shorten it.
TOKEN_TTL = 3600
#: The refusal of a locked technical account (after MAX_FAILED_LOGINS wrong passwords).
LOCKED = "cpro-account: technical account locked after too many failed sign-in attempts"
#: Business calls per second each PISTE application may make (a burst of as many); 0: no limit.
RATE_LIMIT = 200
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
    #: token -> (expiry in monotonic seconds, the client it was given to)
    tokens: dict[str, tuple[float, str]] = field(default_factory=dict)
    token_ttl: int = TOKEN_TTL
    #: wrong secrets per client id (known or not) since its last good one; locked at the max
    client_failures: dict[str, int] = field(default_factory=dict)
    locked_clients: set[str] = field(default_factory=set)
    rate_limit: int = RATE_LIMIT
    #: seconds over which ``rate_limit`` calls are allowed (1: per second)
    rate_period: int = 1
    #: client id -> (calls left in its bucket, monotonic time of the last refill)
    buckets: dict[str, tuple[float, float]] = field(default_factory=dict)
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
    """An API call refused with ``status`` and a Chorus-style body (``codeRetour``, ``libelle``),
    with extra response ``headers`` (a 429's Retry-After)."""

    def __init__(self, status: int, libelle: str, headers: dict[str, str] | None = None,
                 **extra: Any):
        super().__init__(libelle)
        self.status = status
        self.headers = headers or {}
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
    refused = _client_refused(state, client_id, secret)
    if refused is not None:
        return JSONResponse({"error": "invalid_client", "error_description": refused},
                            status_code=401)  # fmt: skip
    value = secrets.token_urlsafe(32)
    now = time.monotonic()
    state.tokens = {t: v for t, v in state.tokens.items() if v[0] > now}  # forget old ones
    state.tokens[value] = (now + state.token_ttl, client_id)
    return JSONResponse(
        {
            "access_token": value,
            "token_type": "Bearer",
            "expires_in": state.token_ttl,
            "scope": "openid",
        }
    )


def _client_refused(state: ApiState, client_id: str, secret: str) -> str | None:
    """Why the client credentials are refused (None: they are good). Wrong secrets and unknown
    ids count towards the client's lock; a locked client is refused even with the right one."""
    known = state.clients.get(client_id)
    good = hmac.compare_digest((known or secrets.token_hex(16)).encode(), secret.encode())
    if client_id in state.locked_clients:
        return "client locked after too many wrong secrets; reset it in the back office"
    if known is None or not good:
        if count_unknown(state.client_failures, client_id):
            state.locked_clients.add(client_id)
            return "client locked after too many wrong secrets; reset it in the back office"
        return "unknown client or wrong secret"
    state.client_failures.pop(client_id, None)
    return None


def _bearer(request: Request, state: ApiState, step: str, portal: Portal) -> str:
    """The client id of the caller's live token; ApiRefusal 401 otherwise (also when a fault
    revokes it)."""
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    held = state.tokens.get(value) if scheme.lower() == "bearer" else None
    if held is None or held[0] <= time.monotonic():
        state.tokens.pop(value, None)
        raise ApiRefusal(401, "invalid_token: missing, unknown or expired access token")
    if portal.faults.fire("expire_session", step):
        del state.tokens[value]
        raise ApiRefusal(401, "invalid_token: the access token has expired")
    return held[1]


def _take_call(state: ApiState, client_id: str) -> tuple[int, int]:
    """Take one call from the client's bucket: (whole calls left, seconds until the next one
    when none is left). ApiRefusal 429 (``Retry-After``) when it is empty."""
    limit = state.rate_limit
    if limit <= 0:
        return limit, 0
    rate = limit / state.rate_period  # calls per second
    now = time.monotonic()
    left, since = state.buckets.get(client_id, (float(limit), now))  # ok: a count of calls
    left = min(float(limit), left + (now - since) * rate)  # ok: calls, refilled by time
    if left < 1:
        wait = math.ceil((1 - left) / rate)
        state.buckets[client_id] = (left, now)
        raise ApiRefusal(429, f"quota: more than {limit} calls in {state.rate_period} s; "
                         f"retry in {wait} s",
                         headers={"Retry-After": str(wait), "RateLimit-Remaining": "0",
                                  "RateLimit-Reset": str(wait)})  # fmt: skip
    left -= 1
    state.buckets[client_id] = (left, now)
    return int(left), 0 if left >= 1 else math.ceil((1 - left) / rate)


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
    if account is None:
        db.check_password(password, DUMMY_HASH)
        if count_unknown(portal.unknown_failures, login):
            raise ApiRefusal(403, LOCKED)
        raise refused
    if account.locked:
        raise ApiRefusal(403, LOCKED)
    key = hashlib.sha256(raw.encode()).hexdigest()
    cached = state.accounts.get(key)
    if cached == (account.id, account.password_hash) and not account.failed_logins:
        return account.id
    good = db.check_password(password, account.password_hash)
    if not good or (account.failed_logins and not account.totp_secret):
        _count_sign_in(portal, account.id, good)
    if not good:
        raise refused
    state.accounts[key] = (account.id, account.password_hash)
    return account.id


def _count_sign_in(portal: Portal, account_id: int, good: bool) -> None:
    """A wrong technical-account password counts on the account's lockout (shared with the
    HTML sign-in); a right one resets it (only called so for accounts without a code)."""
    with portal.Session() as s, s.begin():
        account = s.get(db.Account, account_id)
        if account is None:
            return
        if good:
            account.failed_logins = 0
        elif count_failure(account):
            raise ApiRefusal(403, LOCKED)


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
            quota: dict[str, str] = {}
            try:
                left, reset = _take_call(state, _bearer(request, state, step, portal))
                if state.rate_limit > 0:
                    quota = {"RateLimit-Remaining": str(left), "RateLimit-Reset": str(reset)}
                account = _technical_account(request, state, portal)
                body = await _json_body(request)
                result = await fn(request, account, body)
            except ApiRefusal as err:
                return JSONResponse(err.body, status_code=err.status,
                                    headers={**quota, **err.headers})  # fmt: skip
            # a handler may answer itself (the lost-response fault's 502)
            if not isinstance(result, Response):
                result = JSONResponse(result)
            result.headers.update(quota)
            return result

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
    state = api_state(request)
    state.clients[client_id] = secret
    state.client_failures.pop(client_id, None)
    state.locked_clients.discard(client_id)
    return {"client_id": client_id}


def bo_api_settings(request: Request, portal: Portal, body: dict[str, Any]) -> dict[str, Any]:
    """Change the token lifetime (``token_ttl`` seconds), the calls each client may make
    (``rate_limit``, 0: none) per ``rate_period`` seconds (default 1), or revoke every token
    (``revoke``)."""
    state = api_state(request)
    if "token_ttl" in body:
        ttl = int(body["token_ttl"])
        if ttl <= 0:
            raise BackofficeError(400, "token_ttl must be positive")
        state.token_ttl = ttl
    if "rate_limit" in body:
        rate, period = int(body["rate_limit"]), int(body.get("rate_period", 1))
        if rate < 0 or period < 1:
            raise BackofficeError(400, "rate_limit must be 0 (none) or more, rate_period 1+ s")
        state.rate_limit, state.rate_period, state.buckets = rate, period, {}
    if body.get("revoke"):
        state.tokens.clear()
    return {"token_ttl": state.token_ttl, "rate_limit": state.rate_limit,
            "live_tokens": len(state.tokens), "locked_clients": sorted(state.locked_clients)}


ROUTES = [
    Route("/api/oauth/token", token, methods=["POST"]),
    Route("/backoffice/api-clients", backoffice(bo_add_client), methods=["POST"]),
    Route("/backoffice/api-settings", backoffice(bo_api_settings), methods=["POST", "PUT"]),
]

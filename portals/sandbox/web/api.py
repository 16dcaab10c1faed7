"""The sandbox's JSON API, shaped like France's Chorus Pro *Factures* and *Transverses* APIs
behind PISTE (auth in :mod:`portals.sandbox.web.api_auth`). Claims filed here go into the same
database as the HTML wizard's, so the back office shows and moves them like any other.

Followed (public documents, read through the project's search tool):

* ``POST /cpro/transverses/v1/ajouter/fichier`` (Chorus Pro "ajouterFichierDansSysteme"): a
  file as base64 (``pieceJointeFichier``, ``pieceJointeNom``, ``pieceJointeTypeMime``,
  ``pieceJointeExtension``) -> ``pieceJointeId``;
* ``POST /cpro/factures/v1/soumettre`` (cpro-docs.choruspay.fr, "Soumettre une facture PDF"):
  ``numeroFactureSaisi``, ``dateFacture``, ``modeDepot`` (DEPOT_PDF_API),
  ``cadreDeFacturation.codeCadreFacturation`` (A1_FACTURE_FOURNISSEUR), ``references``
  (``deviseFacture``, ``numeroMarche``: the contract), ``montantTotal`` (``montantHtTotal``,
  ``montantTVA``, ``montantTtcTotal``, ``montantAPayer``), ``pieceJointePrincipale`` and
  ``pieceJointeComplementaire`` naming the files added before -> ``identifiantFactureCPP``,
  ``numeroFacture``, ``dateDepot``, ``statutFacture`` and the deposit id ``numeroFluxDepot``;
* ``POST /cpro/factures/v1/consulter/fournisseur`` ("Consult invoice"):
  ``identifiantFactureCPP`` -> the invoice with its current status and history;
* ``POST /cpro/factures/v1/rechercher/fournisseur`` (the supplier-side twin of
  "rechercherFactureParRecipiendaire", communaute.chorus-pro.gouv.fr): filters
  ``numeroFacture``, ``numeroMarche``, ``statutCourant``, paging ``pageResultatDemandee`` /
  ``nbResultatsParPage`` -> ``listeFactures``, ``total``, ``pages``;
* Chorus Pro's invoice status words (DEPOSEE, MISE_A_DISPOSITION, SUSPENDUE, SERVICE_FAIT,
  MANDATEE, MISE_EN_PAIEMENT, REJETEE), as in :data:`CHORUS_STATUS`.

Simplified: amounts are decimal *strings* (Chorus takes JSON numbers; strings keep them exact);
no recipient (``destinataire``), supplier structure, bank details or user ids: the technical
account and the contract (``numeroMarche``) name them; lines (``lignePoste``/``ligneTva``) are
not taken, only the totals; the billing period travels in ``periodeFacturation``
(``dateDebut``, ``dateFin``: ours, not Chorus'); ``numeroFluxDepot`` is the sandbox's claim
reference (``CLM-YYYY-NNNNNN``), so the back office names the same claim; the search and
consultation answers also carry the payments and reviewer comments (``montantPaye``,
``datePaiement``, ``referencePaiement``, ``commentaires``), which Chorus Pro spreads over other
services; a duplicate invoice is HTTP 409 naming the existing deposit. Every check is made
before the claim is stored; then the ``lost_response=api_submit`` fault drops the answer (502)
after the commit, as a proxy timing out would.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from portals.sandbox import db
from portals.sandbox.rules import check_names, check_upload
from portals.sandbox.web.api_auth import ApiRefusal, Attachment, api_call, api_state
from portals.sandbox.web.core import portal_of

#: The sandbox's status -> Chorus Pro's word for it.
CHORUS_STATUS = {
    "submitted": "DEPOSEE",
    "under_review": "MISE_A_DISPOSITION",
    "returned": "SUSPENDUE",
    "approved": "SERVICE_FAIT",
    "payment_ordered": "MANDATEE",
    "paid": "MISE_EN_PAIEMENT",
    "rejected": "REJETEE",
}
SANDBOX_STATUS = {v: k for k, v in CHORUS_STATUS.items()}
MAX_PAGE = 1000
OK = {"codeRetour": 0, "libelle": "GCU_MSG_01_000"}


def _text(body: dict[str, Any], *path: str, required: bool = True) -> str:
    """The string at ``path`` in ``body``; ApiRefusal 400 naming the field when it is missing."""
    value: Any = body
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise ApiRefusal(400, f"{'.'.join(path)}: champ obligatoire / required field")
        return ""
    if not isinstance(value, (str, int)) or isinstance(value, bool):
        raise ApiRefusal(400, f"{'.'.join(path)}: must be a string")
    return str(value).strip()


def _date(body: dict[str, Any], *path: str) -> dt.date:
    try:
        return dt.date.fromisoformat(_text(body, *path))
    except ValueError as err:
        raise ApiRefusal(400, f"{'.'.join(path)}: a date like 2026-01-31") from err


def _amount(body: dict[str, Any], *path: str) -> Decimal:
    text = _text(body, *path)
    try:
        value = Decimal(text)
    except InvalidOperation as err:
        raise ApiRefusal(400, f"{'.'.join(path)}: an amount like 1234.50") from err
    if not value.is_finite() or value < 0 or value.as_tuple().exponent < -2 or value > 10**12:
        raise ApiRefusal(400, f"{'.'.join(path)}: an amount like 1234.50")
    return value


def _int(body: dict[str, Any], key: str, default: int, high: int) -> int:
    value = body.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= high:
        raise ApiRefusal(400, f"{key}: a whole number from 1 to {high}")
    return value


@api_call("api_upload")
async def add_file(request: Request, account: int, body: dict[str, Any]) -> dict[str, Any]:
    """``ajouter/fichier``: keep one base64 file for a later invoice; returns its id."""
    name = _text(body, "pieceJointeNom")
    try:
        content = base64.b64decode(_text(body, "pieceJointeFichier"), validate=True)
    except (binascii.Error, ValueError) as err:
        raise ApiRefusal(400, "pieceJointeFichier: not base64") from err
    problems = check_upload("pieceJointeFichier", name, content)
    if problems:
        raise ApiRefusal(400, "; ".join(problems), messages=problems)
    state = api_state(request)
    ident = state.next_attachment
    state.next_attachment += 1
    state.attachments[ident] = Attachment(account, name, content)
    return {**OK, "pieceJointeId": ident}


def _pieces(request: Request, account: int, body: dict[str, Any]) -> list[tuple[str, int]]:
    """(document type, attachment id) of every file the invoice names, main file first."""
    named: list[tuple[str, int]] = []
    for key, label in (("pieceJointePrincipale", "Principale"),
                       ("pieceJointeComplementaire", "Complementaire")):  # fmt: skip
        items = body.get(key) or []
        if not isinstance(items, list):
            raise ApiRefusal(400, f"{key}: a list")
        for item in items:
            ident = item.get(f"pieceJointe{label}Id") if isinstance(item, dict) else None
            doc = item.get(f"pieceJointe{label}Designation") if isinstance(item, dict) else None
            if not isinstance(ident, int) or not isinstance(doc, str) or not doc:
                raise ApiRefusal(400, f"{key}: each item needs an id and a designation")
            found = api_state(request).attachments.get(ident)
            if found is None or found.account_id != account:
                raise ApiRefusal(400, f"{key}: no attachment {ident} (add it with ajouter/fichier)")
            named.append((doc, ident))
    if not named:
        raise ApiRefusal(400, "pieceJointePrincipale: the invoice file is required")
    return named


def _contract(s: Session, account: int, number: str) -> db.Contract:
    contract = s.scalar(select(db.Contract).where(db.Contract.number == number))
    if contract is None or contract.account_id != account:
        raise ApiRefusal(400, f"references.numeroMarche: no contract {number} on this account")
    return contract


def _check_invoice(body: dict[str, Any], contract: db.Contract, docs: list[str]) -> list[str]:
    """The rules a deposit breaks beyond field formats (document types, totals, currency)."""
    problems: list[str] = []
    if _text(body, "cadreDeFacturation", "codeCadreFacturation") != "A1_FACTURE_FOURNISSEUR":
        problems.append("cadreDeFacturation.codeCadreFacturation: only A1_FACTURE_FOURNISSEUR")
    missing = [t for t in contract.document_type_list if t not in docs]
    if missing:
        problems.append(f"pieces jointes: missing {', '.join(missing)} for this contract")
    unknown = [t for t in docs if t not in contract.document_type_list]
    if unknown:
        problems.append(f"pieces jointes: {', '.join(unknown)} not asked by this contract")
    net, vat = _amount(body, "montantTotal", "montantHtTotal"), _amount(body, "montantTotal",
                                                                          "montantTVA")
    if net + vat != _amount(body, "montantTotal", "montantTtcTotal"):
        problems.append("montantTotal.montantTtcTotal: must equal montantHtTotal + montantTVA")
    if _text(body, "references", "deviseFacture") != contract.currency:
        problems.append(f"references.deviseFacture: this contract is in {contract.currency}")
    return problems


@api_call("api_submit")
async def submit_invoice(request: Request, account: int, body: dict[str, Any]) -> Any:
    """``soumettre``: check everything, store the claim, answer its deposit id."""
    portal = portal_of(request)
    state = api_state(request)
    number, inv_date = _text(body, "numeroFactureSaisi"), _date(body, "dateFacture")
    start = _date(body, "periodeFacturation", "dateDebut")
    end = _date(body, "periodeFacturation", "dateFin")
    pieces = _pieces(request, account, body)
    now = db.utcnow()
    with portal.Session() as s, s.begin():
        contract = _contract(s, account, _text(body, "references", "numeroMarche"))
        problems = _check_invoice(body, contract, [d for d, _ in pieces])
        problems += check_names([state.attachments[i].filename for _, i in pieces])
        if end < start:
            problems.append("periodeFacturation.dateFin: before dateDebut")
        if problems:
            raise ApiRefusal(400, "; ".join(problems), messages=problems)
        dup = s.scalar(select(db.Claim).where(db.Claim.contract_id == contract.id,
                                              db.Claim.invoice_number == number))
        if dup is not None and portal.faults.duplicate_check:
            raise ApiRefusal(409, f"FACTURE_DOUBLON: invoice {number} already deposited on "
                             f"contract {contract.number} ({dup.reference})",
                             identifiantFactureCPP=dup.id, numeroFluxDepot=dup.reference)
        claim = _store(s, account, contract, body, pieces, state, now)
        claim.invoice_number, claim.invoice_date = number, inv_date
        claim.period_start, claim.period_end = start, end
        s.flush()
        claim.reference = f"CLM-{now.year}-{claim.id:06d}"
        answer = {**OK, "identifiantFactureCPP": claim.id, "numeroFacture": number,
                  "dateDepot": now.date().isoformat(), "statutFacture": "DEPOSEE",
                  "numeroFluxDepot": claim.reference}
    for _, ident in pieces:
        state.attachments.pop(ident, None)
    if portal.faults.fire("lost_response", "api_submit"):
        # the claim is stored; the answer never reaches the supplier (a proxy times out)
        return PlainTextResponse("502 Bad Gateway", status_code=502)
    return answer


def _store(s: Session, account: int, contract: db.Contract, body: dict[str, Any],
           pieces: list[tuple[str, int]], state: Any, now: dt.datetime) -> db.Claim:
    """A new submitted claim with its files and its first history event (not yet flushed)."""
    claim = db.Claim(account_id=account, contract_id=contract.id, submitted_at=now,
                     currency=contract.currency, status="submitted", status_at=now)
    claim.net = str(_amount(body, "montantTotal", "montantHtTotal"))
    claim.vat = str(_amount(body, "montantTotal", "montantTVA"))
    claim.total = str(_amount(body, "montantTotal", "montantTtcTotal"))
    for doc, ident in pieces:
        f = state.attachments[ident]
        claim.files.append(db.ClaimFile(document_type=doc, filename=f.filename,
                                        size=len(f.content),
                                        sha256=hashlib.sha256(f.content).hexdigest(),
                                        content=f.content))
    claim.events.append(db.StatusEvent(status="submitted", at=now,
                                       note="submitted via the API (soumettre)"))
    s.add(claim)
    return claim


def invoice_json(claim: db.Claim, *, history: bool = False) -> dict[str, Any]:
    """One claim as the API shows it."""
    paid = sum((Decimal(p.amount) for p in claim.payments), Decimal(0))
    last = claim.payments[-1] if claim.payments else None
    row: dict[str, Any] = {
        "identifiantFactureCPP": claim.id,
        "numeroFacture": claim.invoice_number,
        "numeroMarche": claim.contract.number,
        "numeroFluxDepot": claim.reference,
        "dateFacture": claim.invoice_date.isoformat(),
        "dateDepot": claim.submitted_at.date().isoformat(),
        "statut": CHORUS_STATUS.get(claim.status, claim.status.upper()),
        "dateHeureEtatCourant": db.aware(claim.status_at).isoformat(),  # type: ignore[union-attr]
        "devise": claim.currency,
        "montantHT": claim.net,
        "montantTTC": claim.total,
        "montantPaye": str(paid) if last else None,
        "datePaiement": last.paid_on.isoformat() if last else None,
        "referencePaiement": last.reference if last else None,
        "commentaires": [c.text for c in claim.comments],
    }
    if history:
        row["historiqueStatuts"] = [
            {"statut": CHORUS_STATUS.get(e.status, e.status), "date": e.at.isoformat(),
             "commentaire": e.note} for e in claim.events
        ]
    return row


_LOAD = (selectinload(db.Claim.contract), selectinload(db.Claim.payments),
         selectinload(db.Claim.comments))


@api_call("api_consult")
async def consult(request: Request, account: int, body: dict[str, Any]) -> dict[str, Any]:
    """``consulter/fournisseur``: one invoice of this account, with its history."""
    ident = body.get("identifiantFactureCPP")
    if not isinstance(ident, int) or isinstance(ident, bool):
        raise ApiRefusal(400, "identifiantFactureCPP: a whole number")
    with portal_of(request).Session() as s:
        claim = s.get(db.Claim, ident, options=[*_LOAD, selectinload(db.Claim.events)])
        if claim is None or claim.account_id != account:
            raise ApiRefusal(404, f"no invoice {ident} on this account")
        return {**OK, "facture": invoice_json(claim, history=True)}


@api_call("api_search")
async def search(request: Request, account: int, body: dict[str, Any]) -> dict[str, Any]:
    """``rechercher/fournisseur``: this account's invoices by number, contract, status; paged."""
    page = _int(body, "pageResultatDemandee", 1, 10**6)
    size = _int(body, "nbResultatsParPage", 100, MAX_PAGE)
    query = select(db.Claim).where(db.Claim.account_id == account)
    if _text(body, "numeroFacture", required=False):
        query = query.where(db.Claim.invoice_number == _text(body, "numeroFacture"))
    if _text(body, "numeroMarche", required=False):
        number = _text(body, "numeroMarche")
        query = query.join(db.Contract).where(db.Contract.number == number)
    if _text(body, "statutCourant", required=False):
        word = _text(body, "statutCourant")
        if word not in SANDBOX_STATUS:
            raise ApiRefusal(400, f"statutCourant: one of {', '.join(SANDBOX_STATUS)}")
        query = query.where(db.Claim.status == SANDBOX_STATUS[word])
    with portal_of(request).Session() as s:
        total = s.scalar(select(func.count()).select_from(query.subquery())) or 0
        rows = s.scalars(query.options(*_LOAD).order_by(db.Claim.id)
                         .offset((page - 1) * size).limit(size))
        found = [invoice_json(c) for c in rows]
    return {**OK, "pageCourante": page, "pages": max(1, -(-total // size)),
            "nbResultatsParPage": size, "total": total, "listeFactures": found}


#: the API's business routes, for :func:`portals.sandbox.app.create_app`
ROUTES = [
    Route("/cpro/transverses/v1/ajouter/fichier", add_file, methods=["POST"]),
    Route("/cpro/factures/v1/soumettre", submit_invoice, methods=["POST"]),
    Route("/cpro/factures/v1/consulter/fournisseur", consult, methods=["POST"]),
    Route("/cpro/factures/v1/rechercher/fournisseur", search, methods=["POST"]),
]

"""The bare ``httpx`` reference of ``bench_portal.py``'s API channel figure (not a benchmark
by itself): the same calls as ``ChorusProAdapter``, with no kit, no evidence and no database."""

from __future__ import annotations

import base64
import functools
import ssl
import time

import httpx

from portals.base import SubmissionPackage
from portals.sandbox.api_testing import ApiClient
from portals.sandbox.testing import SandboxServer, Supplier


def relabel(packages: list[SubmissionPackage], contract: str, prefix: str
            ) -> list[SubmissionPackage]:
    """The packages on another contract, their invoice numbers prefixed (so none is a duplicate)."""
    return [p.model_copy(update={"contract_number": contract,
                                 "invoice_number": f"{prefix}{p.invoice_number}"})
            for p in packages]


@functools.cache
def bare_tls() -> ssl.SSLContext:
    """The bare script's TLS context, made once per process as the adapter's is
    (``portals.api_channel.tls_context``): a new ``httpx.Client`` otherwise loads the CA bundle
    again, 90-180 ms on a loaded machine, once per round here, which the adapter never pays."""
    return httpx.create_ssl_context()


def bare_api_submit(server: SandboxServer, supplier: Supplier, client: ApiClient,
                    packages: list[SubmissionPackage]) -> tuple[list[str], float]:
    """One token, then per package one ``ajouter/fichier`` per file and one ``soumettre``.
    Returns the deposit ids and the seconds the token took."""
    refs: list[str] = []
    start = time.perf_counter()
    with httpx.Client(base_url=server.url, timeout=30, verify=bare_tls()) as http:
        answer = http.post("/api/oauth/token", data={
            "grant_type": "client_credentials", "client_id": client.client_id,
            "client_secret": client.client_secret, "scope": "openid"})
        answer.raise_for_status()
        account = f"{supplier.username}:{supplier.password}".encode()
        http.headers.update({"Authorization": f"Bearer {answer.json()['access_token']}",
                             "cpro-account": base64.b64encode(account).decode()})
        setup_s = time.perf_counter() - start
        for pkg in packages:
            pieces = []
            for f in sorted(pkg.files, key=lambda f: f.document_type != "invoice"):
                up = http.post("/cpro/transverses/v1/ajouter/fichier", json={
                    "pieceJointeFichier": base64.b64encode(f.path.read_bytes()).decode(),
                    "pieceJointeNom": f.filename, "pieceJointeTypeMime": "application/pdf",
                    "pieceJointeExtension": "PDF"})
                up.raise_for_status()
                pieces.append((f.document_type, up.json()["pieceJointeId"]))
            (main_doc, main_id), rest = pieces[0], pieces[1:]
            body = {
                "modeDepot": "DEPOT_PDF_API", "numeroFactureSaisi": pkg.invoice_number,
                "dateFacture": pkg.invoice_date.isoformat(),
                "cadreDeFacturation": {"codeCadreFacturation": "A1_FACTURE_FOURNISSEUR"},
                "references": {"deviseFacture": pkg.currency, "typeFacture": "FACTURE",
                               "numeroMarche": pkg.contract_number},
                "montantTotal": {"montantHtTotal": str(pkg.net), "montantTVA": str(pkg.vat),
                                 "montantTtcTotal": str(pkg.total),
                                 "montantAPayer": str(pkg.total)},
                "periodeFacturation": {"dateDebut": pkg.period_start.isoformat(),
                                       "dateFin": pkg.period_end.isoformat()},
                "pieceJointePrincipale": [{"pieceJointePrincipaleDesignation": main_doc,
                                           "pieceJointePrincipaleId": main_id}],
                "pieceJointeComplementaire": [
                    {"pieceJointeComplementaireDesignation": d,
                     "pieceJointeComplementaireId": i, "pieceJointeComplementaireType": "AUTRE"}
                    for d, i in rest],
            }
            done = http.post("/cpro/factures/v1/soumettre", json=body)
            done.raise_for_status()
            refs.append(done.json()["numeroFluxDepot"])
    return refs, setup_s

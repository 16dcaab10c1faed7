"""Claim types, read from ``schemas/claim-types/*.schema.json`` (their ``x-claimwright`` part)."""

from __future__ import annotations

from functools import cache

import schemas
from claims.errors import UnknownName
from claims.core.models import ClaimType, Contract, DocumentRule


@cache
def claim_type(name: str) -> ClaimType:
    """The claim type ``name``; an unknown name raises :class:`UnknownName` with suggestions."""
    names = schemas.claim_type_names()
    if name not in names:
        raise UnknownName("claim type", name, names, field="claim_type")
    doc = schemas.load(f"claim-types/{name}")
    x = doc["x-claimwright"]
    return ClaimType(name=name, title=doc["title"], schema_id=doc["$id"],
                     needs_period=x.get("needs_period", False),
                     needs_milestone=x.get("needs_milestone", False),
                     documents=tuple(DocumentRule.model_validate(d) for d in x["documents"]))


def document_rules(contract: Contract, type_name: str) -> dict[str, DocumentRule]:
    """Every document rule for a claim of ``type_name`` on ``contract``, by document type."""
    rules = {r.type: r for r in claim_type(type_name).documents}
    for extra in contract.extra_documents:
        rules[extra.type] = extra
    return rules


def known_document_types() -> set[str]:
    """All document types any shipped claim type names."""
    return {r.type for n in schemas.claim_type_names() for r in claim_type(n).documents}

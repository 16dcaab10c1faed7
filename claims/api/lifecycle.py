"""Contracts, invoices and claims as user actions: add, make, validate, build, correct,
withdraw, list and show. The work is done in :mod:`claims.lifecycle.workflow`."""

from __future__ import annotations

from claims.core.models import FROZEN, Claim, ClaimStatus, Contract, ceiling_problem
from claims.lifecycle.bundle import Bundle
from claims.lifecycle.validation.findings import Finding
from claims.lifecycle.workflow import (
    add_contract, add_invoices, build_claim, build_claims, check_buildable, correct_claim,
    findings_for, get_claim, list_claims, list_contracts, new_claim, parse_period,
    target_claims, validate_claim, withdraw_claim,
)
from claims.store import ImportResult

__all__ = ["FROZEN", "add_contract", "add_invoices", "ceiling_problem", "new_claim",
           "validate_claim",
           "build_claim", "build_claims", "check_buildable", "correct_claim", "findings_for",
           "get_claim", "list_claims", "list_contracts", "parse_period", "target_claims",
           "withdraw_claim",
           "Bundle", "Claim", "ClaimStatus", "Contract", "Finding", "ImportResult"]

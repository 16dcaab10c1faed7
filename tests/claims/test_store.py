"""The store on real SQLite and real PostgreSQL: round trips, exact money, all-or-nothing."""

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import text

from claims.errors import ConflictError, NotFound, StoreError
from claims.core.models import ClaimStatus, Contract, Invoice, InvoiceLine
from claims.store import Store


def contract(**over) -> Contract:
    data = dict(number="C-1", agency="Ministry", currency="SAR", ceiling="1000000.00",
                period_start=date(2026, 1, 1), period_end=date(2026, 12, 31), vat_percent="15",
                claim_types=("goods-delivery",))
    data.update(over)
    return Contract.model_validate(data)


def invoice(number="INV-1", total="115.10", **over) -> Invoice:
    data = dict(number=number, issue_date=date(2026, 3, 1), currency="SAR", customer="Ministry",
                contract_number="C-1", net="100.09", vat="15.01", total=total,
                lines=[InvoiceLine(description="x", quantity="1", unit_price="100.09",
                                   net="100.09", vat="15.01")])
    data.update(over)
    return Invoice.model_validate(data)


@pytest.fixture
def store(database_url):
    s = Store.open(database_url)
    yield s
    s.close()


def test_contract_round_trips_and_a_second_add_needs_replace(store) -> None:
    assert store.put_contract(contract()) is True
    assert store.get_contract("C-1") == contract()
    with pytest.raises(ConflictError, match="--replace"):
        store.put_contract(contract(agency="Other"))
    assert store.put_contract(contract(agency="Other"), replace=True) is False
    assert store.get_contract("C-1").agency == "Other"
    with pytest.raises(NotFound, match="no contract C-9"):
        store.get_contract("C-9")


def test_money_is_stored_exactly_and_summed_exactly_in_sql(store) -> None:
    store.put_invoices([invoice("A", net="0.10", vat="0.00", total="0.10", lines=()),
                        invoice("B", net="0.20", vat="0.00", total="0.20", lines=())])
    assert store.get_invoice("A").total == Decimal("0.10")
    with store.engine.connect() as conn:
        raw = conn.execute(text("SELECT SUM(total) FROM invoices")).scalar()
    from claims.store.tables import money_from_sql

    assert money_from_sql(raw) == Decimal("0.30")  # not 0.30000000000000004


def test_reimporting_is_idempotent_and_a_changed_invoice_is_updated(store) -> None:
    first = store.put_invoices([invoice()])
    assert first.added == ["INV-1"]
    again = store.put_invoices([invoice()])
    assert again.added == [] and again.unchanged == ["INV-1"]
    changed = store.put_invoices([invoice(customer="Another agency")])
    assert changed.changed == ["INV-1"]
    assert store.get_invoice("INV-1").customer == "Another agency"


def test_an_invoice_changed_after_its_bundle_was_built_is_a_conflict_not_an_overwrite(
        store) -> None:
    store.put_contract(contract())
    store.put_invoices([invoice()])
    claim = store.create_claim(contract_number="C-1", invoice_number="INV-1",
                               claim_type="goods-delivery", documents=[])
    store.record_event(claim.id, "bundle.built", status=ClaimStatus.READY, bundle_sha256="ab" * 32)
    result = store.put_invoices([invoice(customer="Someone else")])
    assert result.conflicts == ["INV-1"]
    assert store.get_invoice("INV-1").customer == "Ministry"


def test_an_import_is_all_or_nothing(store) -> None:
    bad = invoice("C")
    object.__setattr__(bad, "total", Decimal("1.00001"))  # more places than the store keeps
    with pytest.raises((StoreError, ValueError)):
        store.put_invoices([invoice("A"), bad])
    with pytest.raises(NotFound):
        store.get_invoice("A")


def test_claims_keep_their_documents_in_order_and_their_history(store) -> None:
    store.put_contract(contract())
    store.put_invoices([invoice()])
    docs = [dict(type=t, filename=f"{t}.pdf", sha256=str(i) * 64, size=10 + i,
                 media_type="application/pdf", pages=1, stored_path=f"documents/{i}.pdf")
            for i, t in enumerate(["invoice", "delivery-note"])]
    claim = store.create_claim(contract_number="C-1", invoice_number="INV-1",
                               claim_type="goods-delivery", documents=docs, actor="alice")
    assert [d.type for d in claim.documents] == ["invoice", "delivery-note"]
    assert claim.status is ClaimStatus.DRAFT and claim.events[0].actor == "alice"
    store.record_event(claim.id, "validated", status=ClaimStatus.VALID, detail={"errors": 0})
    again = store.get_claim(claim.id)
    assert again.status is ClaimStatus.VALID
    assert [e.kind for e in again.events] == ["created", "validated"]
    assert again.created_at.tzinfo is not None
    assert store.list_claims(status="VALID")[0].id == claim.id
    assert store.list_claims(status="PAID") == []


def test_claim_contexts_read_many_claims_as_each_alone(store) -> None:
    """Two contracts, a withdrawn claim: each claim's context read with others is its own
    (its contract's earlier live claims only), and an unknown id is left out."""
    store.put_contract(contract())
    store.put_contract(contract(number="C-2"))
    store.put_invoices([invoice(f"INV-{i}", contract_number=f"C-{1 + i % 2}")
                        for i in range(4)])
    docs = [dict(type="invoice", filename="invoice.pdf", sha256="a" * 64, size=10,
                 media_type="application/pdf", pages=1, stored_path="documents/a.pdf")]
    ids = [store.create_claim(contract_number=f"C-{1 + i % 2}", invoice_number=f"INV-{i}",
                              claim_type="goods-delivery", documents=docs, actor="a").id
           for i in range(4)]
    store.withdraw_claim(ids[0], reason="x", actor="a")
    together = store.claim_contexts([*reversed(ids), 999])
    assert sorted(together) == ids
    for i in ids:
        assert together[i] == store.claim_context(i)
    assert [e[0] for e in together[ids[2]]["earlier"]] == []        # ids[0] is withdrawn
    assert [e[0] for e in together[ids[3]]["earlier"]] == [ids[1]]  # its own contract's
    assert together[ids[3]]["contract"].number == "C-2"
    with pytest.raises(NotFound):
        store.claim_context(999)

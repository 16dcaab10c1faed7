"""Leases: concurrent workers on one database never take the same claim."""

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest

from claims.core.models import ClaimStatus
from claims.errors import NotFound
from claims.lifecycle.leases import holder, release, take_lease, take_next, worker_id
from claims.store import Store
from tests.claims.test_store import contract, invoice


def ready_claims(store: Store, n: int) -> list[int]:
    store.put_contract(contract())
    store.put_invoices([invoice(f"INV-{i}") for i in range(n)])
    ids = []
    for i in range(n):
        c = store.create_claim(contract_number="C-1", invoice_number=f"INV-{i}",
                               claim_type="goods-delivery", documents=[])
        store.record_event(c.id, "bundle.built", status=ClaimStatus.READY)
        ids.append(c.id)
    return ids


def test_eight_workers_take_forty_claims_each_exactly_once(database_url) -> None:
    store = Store.open(database_url)
    ids = ready_claims(store, 40)

    def worker() -> list[int]:
        owner, mine = worker_id(), []
        while (claim_id := take_next(store.engine, owner, ["READY"])) is not None:
            mine.append(claim_id)
            # done with it: move it on so nobody else wants it, then let go
            store.record_event(claim_id, "submitted", status=ClaimStatus.SUBMITTED)
            release(store.engine, claim_id, owner)
        return mine

    with ThreadPoolExecutor(8) as pool:
        taken = [c for result in pool.map(lambda _: worker(), range(8)) for c in result]
    assert sorted(taken) == ids  # every claim once, none twice
    store.close()


def test_a_held_lease_blocks_others_until_it_expires(database_url) -> None:
    store = Store.open(database_url)
    [claim_id] = ready_claims(store, 1)
    assert take_next(store.engine, "a", ["READY"]) == claim_id
    assert take_next(store.engine, "b", ["READY"]) is None   # held by a
    release(store.engine, claim_id, "b")                      # b cannot release a's lease
    assert take_next(store.engine, "b", ["READY"]) is None
    release(store.engine, claim_id, "a")
    # a crashed worker's lease runs out and the claim is taken up again
    assert take_next(store.engine, "c", ["READY"], ttl=timedelta(seconds=-1)) == claim_id
    assert take_next(store.engine, "d", ["READY"]) == claim_id
    store.close()


def test_a_last_write_gives_the_lease_back_only_to_its_holder(database_url) -> None:
    store = Store.open(database_url)
    first, second = ready_claims(store, 2)
    assert take_next(store.engine, "a", ["READY"]) == first
    store.record_event(first, "submission.finished", status=ClaimStatus.SUBMITTED, release="a")
    assert holder(store.engine, first) is None  # given back in the same write
    assert take_next(store.engine, "b", ["READY"]) == second
    store.record_event(second, "note", release="a")  # a does not hold it: b keeps it
    assert holder(store.engine, second)[0] == "b"  # type: ignore[index]
    store.close()


def test_a_brief_claim_is_the_claim_without_documents_and_history(database_url) -> None:
    store = Store.open(database_url)
    [claim_id] = ready_claims(store, 1)
    full, brief = store.get_claim(claim_id), store.get_claim_brief(claim_id)
    assert full.events and brief == full.model_copy(update={"documents": (), "events": ()})
    store.close()


def test_a_lease_taken_with_read_carries_the_claim_read_in_its_transaction(database_url) -> None:
    store = Store.open(database_url)
    first, second = ready_claims(store, 2)
    lease = take_lease(store.engine, "a", ["READY"], read=True)
    assert lease is not None and lease.claim_id == first
    assert lease.version == 1 and lease.attempts == 0
    assert lease.claim == store.get_claim_brief(first)
    other = take_lease(store.engine, "b", ["READY"])
    assert other is not None and other.claim_id == second and other.claim is None  # not asked
    store.close()


def test_a_fenced_last_write_renews_or_gives_back_only_as_asked(database_url) -> None:
    store = Store.open(database_url)
    first, second = ready_claims(store, 2)
    lease = take_lease(store.engine, "a", ["READY"], ttl=timedelta(seconds=30), only=[first])
    assert lease is not None
    fence = lease.fence()
    store.record_event(first, "submission.intent", status=ClaimStatus.SUBMITTING, fence=fence,
                       attempts=1)
    held = holder(store.engine, first)
    assert held is not None and held[0] == "a" and abs((held[1] - fence.until).total_seconds()) < 1
    assert store.get_claim_attempts(first) == 1
    store.record_event(first, "submission.finished", status=ClaimStatus.SUBMITTED,
                       fence=lease.fence(), release="a", portal_reference="REF-1")
    claim = store.get_claim(first)
    assert holder(store.engine, first) is None and claim.portal_reference == "REF-1"
    assert [e.kind for e in claim.events][-2:] == ["submission.intent", "submission.finished"]
    with pytest.raises(NotFound):
        store.record_event(second + 100, "note", status=ClaimStatus.SUBMITTED)
    store.close()

"""Leases: concurrent workers on one database never take the same claim."""

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from claims.lifecycle.leases import holder, release, take_next, worker_id
from claims.core.models import ClaimStatus
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

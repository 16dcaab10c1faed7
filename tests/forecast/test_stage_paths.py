"""learn()'s stage step in one pass per claim (issue #17) against the step-by-step path it
replaced: stage_observations with a scan of the later events per event, ClaimFacts.first as
next(generator), lateness_shares over every receipt then cut at the day. The same Behaviour
to the bit (dataclass equality compares every distribution's floats)."""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import date, timedelta

import pytest

from claims.forecast.distributions import Sample
from claims.forecast.history import (
    GLOBAL, Behaviour, _learn_stages, lateness_shares, learn, stage_observations,
)
from claims.forecast.ledger import APPROVED, Ledger
from claims.forecast.stage_facts import stage_facts, stages_at
from claims.forecast.synthetic import generate

from tests.forecast.test_learner import _ledger

STATUSES = ("SUBMITTED", "UNDER_REVIEW", "RETURNED", "APPROVED", "PAYMENT_ORDERED", "PAID",
            "REJECTED")


def _observations_as_before(events):
    out = []
    for k, (at, st) in enumerate(events):
        if st == "SUBMITTED":
            end = next((a for a, s in events[k + 1:] if s in APPROVED or s == "RETURNED"), None)
            out.append((0, at, end))
        elif st == "RETURNED":
            end = next((a for a, s in events[k + 1:] if s == "SUBMITTED"), None)
            out.append((1, at, end))
    return out


def _first_as_before(claim, status, day):
    return next((at for at, st in claim.events if st == status and at <= day), None)


def _stages_as_before(ledger: Ledger, day: date, since: date) -> Behaviour:
    b = Behaviour()
    review, correction, lateness = (defaultdict(Sample) for _ in range(3))
    for claim in ledger.claims:
        if not claim.events or claim.events[0][0] > day or claim.events[-1][0] < since:
            continue
        events = [(at, st) for at, st in claim.events if at <= day]
        if not events or events[-1][0] < since:
            continue
        for table, start, end in _observations_as_before(events):
            samples = (review, correction)[table]
            for s in (samples[claim.agency], samples["everyone"]):
                if end is not None:
                    s.add_paid((end - start).days, 1.0)
                else:
                    s.add_open((day - start).days, 1.0)
                s.count()
        approved = _first_as_before(claim, "APPROVED", day)
        if approved is None:
            continue
        target = approved + timedelta(days=claim.payment_days)
        left = 1.0
        for paid_on, slot, share, after in lateness_shares(ledger, claim, approved):
            if paid_on <= day:
                left = after
                for s in (lateness[claim.agency], lateness["everyone"]):
                    s.paid[slot] += share
        for s in (lateness[claim.agency], lateness["everyone"]):
            if left > 1e-9:
                s.add_open((day - target).days, left)
            s.count()
    for table, samples in ((b.review, review), (b.correction, correction),
                           (b.lateness, lateness)):
        for key, sample in samples.items():
            dist = sample.estimate()
            if dist is not None:
                table[GLOBAL if key == "everyone" else key] = dist
    return b


def _odd_claims(ledger: Ledger, seed: int, reverse: bool = True) -> None:
    """Claims with random status runs (twice submitted, returned twice, paid without an
    approval, rejected) and (``reverse``) some in reverse time order."""
    rng = random.Random(seed)
    for k, claim in enumerate(ledger.claims[::7]):
        at = claim.events[0][0] if claim.events else date(2024, 6, 1)
        events = []
        for _ in range(rng.randint(0, 7)):
            at += timedelta(days=rng.randint(0, 40))
            events.append((at, rng.choice(STATUSES)))
        if reverse and k % 5 == 0:
            events.reverse()
        ledger.claims[ledger.claims.index(claim)] = claim._replace(events=tuple(events))


@pytest.mark.parametrize("seed", [3, 17])
def test_stages_are_learned_as_before(seed: int) -> None:
    ledger = _ledger(seed)
    _odd_claims(ledger, seed)
    day, learned = date(2023, 12, 1), 0
    while day <= date(2025, 12, 31):
        for window in (365, 60):
            b = Behaviour()
            _learn_stages(ledger, day, day - timedelta(days=window), b)
            assert b == _stages_as_before(ledger, day, day - timedelta(days=window)), day
            learned += bool(b.review and b.correction and b.lateness)
        day += timedelta(days=23)
    assert learned > 20


@pytest.mark.parametrize(("seed", "in_order"), [(3, True), (17, True), (5, False)])
def test_learn_takes_the_stages_column_wise_with_the_same_floats(seed: int, in_order: bool
                                                                  ) -> None:
    """learn() reads the stages of a ledger whose claims' events are in time order (every
    loaded one) column-wise (stage_facts + stages_at), else claim by claim: the same
    distributions to the bit either way, with odd status runs, for many days and windows."""
    ledger = _ledger(seed)
    _odd_claims(ledger, seed, reverse=not in_order)
    assert stage_facts(ledger).in_order is in_order
    day, learned = date(2023, 12, 1), 0
    while day <= date(2025, 12, 31):
        for window in (365, 60):
            b = learn(ledger, day, window_days=window)
            want = _stages_as_before(ledger, day, day - timedelta(days=window))
            assert (b.review, b.correction, b.lateness) == (
                want.review, want.correction, want.lateness), (day, window)
            learned += bool(b.review and b.correction and b.lateness)
        day += timedelta(days=23)
    assert learned > 20


def test_stage_facts_of_a_ledger_without_claims_or_payments() -> None:
    empty = Ledger([], [])
    facts = stage_facts(empty)
    assert facts.in_order and facts.keys == ["everyone"]
    assert stages_at(facts, date(2026, 1, 1).toordinal(), date(2025, 1, 1).toordinal()) == (
        {}, {}, {})


def test_observations_first_and_lateness_cut_as_before() -> None:
    ledger = generate(1500, 30).to_ledger()
    _odd_claims(ledger, 5)
    rng = random.Random(5)
    for claim in ledger.claims:
        assert stage_observations(claim.events) == _observations_as_before(claim.events)
        assert stage_observations(list(claim.events)) == _observations_as_before(claim.events)
        for status in ("APPROVED", "RETURNED"):
            for day in (date(2024, 1, 1), date(2025, 6, 30), date.max):
                assert claim.first(status, day) == _first_as_before(claim, status, day)
        approved = claim.first("APPROVED", date.max)
        if approved is not None:
            every = lateness_shares(ledger, claim, approved)
            until = approved + timedelta(days=rng.randint(-5, 200))
            assert lateness_shares(ledger, claim, approved, until) == [
                s for s in every if s[0] <= until]

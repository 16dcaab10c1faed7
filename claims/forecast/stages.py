"""When a claim's money comes, from where it stands on the portal. Pure.

The days from the as-of date to the receipt are a sum of stages, each drawn from the agency's
history (shrunk toward every agency's, else a default):

- returned: the correction still to do (given it has taken ``elapsed`` days so far), then a
  review, then the contract's payment days, then the agency's lateness;
- submitted / under review: the rest of the review (given ``elapsed`` days so far), then payment
  days and lateness;
- approved (or payment ordered): approval date + payment days, shifted by lateness, given it
  is not paid yet.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from claims.forecast.distributions import (
    DMIN, Dist, convolve, days_pmf, week_weights, weights_from_days,
)
from claims.forecast.history import Behaviour
from claims.forecast.ledger import APPROVED, RETURNED, ClaimFacts

if TYPE_CHECKING:
    from claims.forecast.options import Options


def remaining(dist: Dist, elapsed: int, limit: int) -> list[float]:
    """P(the stage ends t days from now | it has not ended after ``elapsed`` days), t ≥ 1,
    as a mass over 0…limit−1 (the stage's ``later`` mass stays out, in the denominator)."""
    out = [0.0] * limit
    start = max(elapsed + 1 - DMIN, 0)
    tail = sum(dist.pmf[start:]) + dist.later
    if tail <= 1e-12:
        out[min(1, limit - 1)] = 1.0  # overdue past anything seen: expect it next
        return out
    for k in range(start, len(dist.pmf)):
        t = k + DMIN - elapsed
        if 0 <= t < limit:
            out[t] += dist.pmf[k] / tail
    return out


def claim_weights(claim: ClaimFacts, status: str, since: date | None,
                  behaviour: Behaviour, day: date, options: Options,
                  cache: dict[tuple[Any, ...], tuple[tuple[float, ...], str]]
                  ) -> tuple[tuple[float, ...], str]:
    """Week weights of the claim's open amount and the assumption, cached per situation."""
    elapsed = (day - since).days if since else 0
    if status in APPROVED:
        approved = claim.first("APPROVED", day) or since or day
        key: tuple[Any, ...] = ("claim", claim.agency, "APPROVED", approved,
                                claim.payment_days)
    else:
        key = ("claim", claim.agency, status, elapsed, claim.payment_days)
    found = cache.get(key)
    if found is not None:  # one lookup: the same situation as a claim before
        return found
    late = behaviour.stage(behaviour.lateness, claim.agency) or Dist.point(0)
    late_median = late.median()
    weeks, limit = options.weeks, 7 * options.weeks + 1
    if status in APPROVED:
        target = approved + timedelta(days=claim.payment_days)
        weights = week_weights(late, (target - day).days, weeks)
        why = (f"approved {approved} + {claim.payment_days} contract payment days = {target}; "
               f"{claim.agency} pays a median {late_median} d after that")
    else:
        review = behaviour.stage(behaviour.review, claim.agency) or \
            Dist.point(options.default_review_days)
        pay_key = ("pay", claim.agency, claim.payment_days)
        if pay_key not in cache:  # the same for every claim of the agency and payment days
            cache[pay_key] = (tuple(days_pmf(late, claim.payment_days, limit)), "")
        pay = cache[pay_key][0]
        if status in RETURNED:
            fix = behaviour.stage(behaviour.correction, claim.agency) or \
                Dist.point(options.default_correction_days)
            first = convolve(remaining(fix, elapsed, limit), days_pmf(review, 0, limit), limit)
            why = (f"returned {elapsed} d ago: correction (median {fix.median()} d), then "
                   f"review (median {review.median()} d)")
        else:
            first = remaining(review, elapsed, limit)
            why = f"in review {elapsed} d: {claim.agency} reviews in a median {review.median()} d"
        weights = weights_from_days(convolve(first, pay, limit), weeks)
        why += f", then {claim.payment_days} payment days and lateness (median {late_median} d)"
    cache[key] = (weights, why)
    return cache[key]

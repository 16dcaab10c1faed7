"""Cash application: bank statements in, payments matched to invoices, a review queue for the
uncertain rest, every application recorded and reversible, and a per-customer reconciliation.

::

    parsers.parse_statement(path, fmt)      → Statement          (camt.053 and CSV streamed)
    matching.match_lines(lines, book)       → Match[]            (pure, indexed, no I/O)
    service.import_statement(ws, path, …)   → ImportSummary      (store, match, apply or queue)
    service.review_queue / accept / change / reject / undo_payment
    service.record_portal_payment(ws, …)    → a payment advice from the portal's status sync
    reconcile.reconciliation(ws)            → per customer: invoiced, claimed, paid, open
"""


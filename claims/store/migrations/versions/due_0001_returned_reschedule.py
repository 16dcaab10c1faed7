"""due: drop the computed due dates of invoices whose claim was RETURNED, made before the fix

Before 3cdfaf3 a claim the agency RETURNED kept the due date made from its first SUBMITTED
event (basis ``statutory``): it accrued late-payment interest and got reminders while back with
the supplier. Since then recording RETURNED or SUBMITTED drops the invoice's computed rows so
the one due-date rule (``claims.core.due.computed_due``, through
``claims.collections.due.ensure_due_dates``) makes them again; rows stored earlier were never
dropped, and nothing else makes a ``statutory`` row again. This drops the computed rows
(bases ``statutory``, ``returned``, ``invoice``, ``default``: ``COMPUTED_BASES`` as of this
revision) of every invoice with a RETURNED claim event; the next command that reads due dates
writes them from the one rule. Explicit terms (net, eom, instalments) are kept. Rows made
since the fix are rebuilt the same.

Revision ID: due_0001
Revises: receivables_0001
"""
from alembic import op


revision = "due_0001"
down_revision = "receivables_0001"
branch_labels = None
depends_on = None

#: claims.core.due.COMPUTED_BASES when this revision was written (a migration is not changed
#: by later code)
_COMPUTED = "'statutory', 'returned', 'invoice', 'default'"


def upgrade() -> None:
    op.execute(f"""DELETE FROM collection_schedule
        WHERE basis IN ({_COMPUTED})
          AND invoice_id IN (SELECT c.invoice_id FROM claims c
                             JOIN claim_events e ON e.claim_id = c.id
                             WHERE e.status = 'RETURNED')""")


def downgrade() -> None:
    """Nothing to put back: the dropped rows are made again by the one rule on next use."""

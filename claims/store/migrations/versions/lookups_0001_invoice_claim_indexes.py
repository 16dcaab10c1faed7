"""lookups: index invoices by customer and claims by invoice

The worklist, the due-date refresh and the receivables look up "the claims of this invoice" and
"the invoices of this customer" once per row; without these indexes each lookup was a full
scan (about four minutes for the first worklist of 100,000 invoices and 10,000 claims).

Revision ID: lookups_0001
Revises: 0001
"""
from alembic import op


revision = "lookups_0001"
down_revision = "0001"
branch_labels = ("lookups",)
depends_on = None


def upgrade() -> None:
    op.create_index("ix_invoices_customer_id", "invoices", ["customer_id"])
    op.create_index("ix_claims_invoice_id", "claims", ["invoice_id"])


def downgrade() -> None:
    op.drop_index("ix_claims_invoice_id", table_name="claims")
    op.drop_index("ix_invoices_customer_id", table_name="invoices")

"""payments: reversals of credits (returned payments) and what they reopened

Revision ID: payments_0002
Revises: payments_0001
"""
from alembic import op
import sqlalchemy as sa


revision = "payments_0002"
down_revision = "payments_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "payment_reversals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("external_id", sa.String(length=200), nullable=False),
        sa.Column("import_id", sa.Integer(), nullable=True),
        sa.Column("value_date", sa.Date(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("payer_name", sa.String(length=200), nullable=True),
        sa.Column("payer_iban", sa.String(length=64), nullable=True),
        sa.Column("reference", sa.Text(), nullable=True),
        sa.Column("remittance", sa.Text(), nullable=True),
        sa.Column("payment_id", sa.Integer(), nullable=True),
        sa.Column("candidates", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("decided_by", sa.String(length=100), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["import_id"], ["statement_imports.id"],
                                name=op.f("fk_payment_reversals_import_id_statement_imports")),
        sa.ForeignKeyConstraint(["payment_id"], ["payments.id"],
                                name=op.f("fk_payment_reversals_payment_id_payments")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_reversals")),
        sa.UniqueConstraint("external_id", name=op.f("uq_payment_reversals_external_id")),
    )
    op.create_index(op.f("ix_payment_reversals_import_id"), "payment_reversals", ["import_id"])
    op.create_index(op.f("ix_payment_reversals_payment_id"), "payment_reversals",
                    ["payment_id"])
    op.create_index(op.f("ix_payment_reversals_status"), "payment_reversals", ["status"])


def downgrade() -> None:
    op.drop_table("payment_reversals")

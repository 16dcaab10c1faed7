"""payments: statement imports, match outcomes (review queue), events, payer accounts, CSV mappings

Revision ID: payments_0001
Revises: 0002
"""
from alembic import op
import sqlalchemy as sa


revision = "payments_0001"
down_revision = "0002"
branch_labels = ("payments",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "statement_imports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("filename", sa.Text(), nullable=False),
        sa.Column("format", sa.String(length=16), nullable=False),
        sa.Column("account", sa.String(length=64), nullable=True),
        sa.Column("statement_id", sa.String(length=200), nullable=True),
        sa.Column("lines", sa.Integer(), nullable=False),
        sa.Column("added", sa.Integer(), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_statement_imports")),
        sa.UniqueConstraint("sha256", name=op.f("uq_statement_imports_sha256")),
    )
    op.create_table(
        "payment_matches",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("payment_id", sa.Integer(), nullable=False),
        sa.Column("import_id", sa.Integer(), nullable=True),
        sa.Column("method", sa.String(length=32), nullable=False),
        sa.Column("confidence", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("flags", sa.JSON(), nullable=False),
        sa.Column("proposal", sa.JSON(), nullable=False),
        sa.Column("auto", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("decided_by", sa.String(length=100), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["payment_id"], ["payments.id"],
                                name=op.f("fk_payment_matches_payment_id_payments")),
        sa.ForeignKeyConstraint(["import_id"], ["statement_imports.id"],
                                name=op.f("fk_payment_matches_import_id_statement_imports")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_matches")),
        sa.UniqueConstraint("payment_id", name=op.f("uq_payment_matches_payment_id")),
    )
    op.create_index(op.f("ix_payment_matches_import_id"), "payment_matches", ["import_id"])
    op.create_index(op.f("ix_payment_matches_status"), "payment_matches", ["status"])
    op.create_table(
        "payment_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("payment_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["payment_id"], ["payments.id"],
                                name=op.f("fk_payment_events_payment_id_payments")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_events")),
    )
    op.create_index(op.f("ix_payment_events_payment_id"), "payment_events", ["payment_id"])
    op.create_table(
        "payer_accounts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("iban", sa.String(length=64), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"],
                                name=op.f("fk_payer_accounts_customer_id_customers")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payer_accounts")),
        sa.UniqueConstraint("iban", name=op.f("uq_payer_accounts_iban")),
    )
    op.create_index(op.f("ix_payer_accounts_customer_id"), "payer_accounts", ["customer_id"])
    op.create_table(
        "bank_csv_mappings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("bank", sa.String(length=100), nullable=False),
        sa.Column("mapping", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bank_csv_mappings")),
        sa.UniqueConstraint("bank", name=op.f("uq_bank_csv_mappings_bank")),
    )


def downgrade() -> None:
    op.drop_table("bank_csv_mappings")
    op.drop_index(op.f("ix_payer_accounts_customer_id"), table_name="payer_accounts")
    op.drop_table("payer_accounts")
    op.drop_index(op.f("ix_payment_events_payment_id"), table_name="payment_events")
    op.drop_table("payment_events")
    op.drop_index(op.f("ix_payment_matches_status"), table_name="payment_matches")
    op.drop_index(op.f("ix_payment_matches_import_id"), table_name="payment_matches")
    op.drop_table("payment_matches")
    op.drop_table("statement_imports")

"""invoice sources: invoice_imports, invoice_origins, customer_links

Revision ID: imports_0001
Revises: 0002
"""
import sqlalchemy as sa
from alembic import op

revision = "imports_0001"
down_revision = "0002"
branch_labels = ("imports",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "invoice_imports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("target", sa.Text(), nullable=False),
        sa.Column("input_sha256", sa.String(length=64), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("invoices", sa.Integer(), nullable=False),
        sa.Column("added", sa.Integer(), nullable=False),
        sa.Column("unchanged", sa.Integer(), nullable=False),
        sa.Column("changed", sa.Integer(), nullable=False),
        sa.Column("conflicts", sa.Integer(), nullable=False),
        sa.Column("customers_added", sa.Integer(), nullable=False),
        sa.Column("contacts_added", sa.Integer(), nullable=False),
        sa.Column("requests", sa.Integer(), nullable=False),
        sa.Column("cursor", sa.String(length=64), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invoice_imports")),
    )
    op.create_index(op.f("ix_invoice_imports_source"), "invoice_imports", ["source"])
    op.create_table(
        "invoice_origins",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("invoice_id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("external_id", sa.String(length=100), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("document_id", sa.Integer(), nullable=True),
        sa.Column("import_id", sa.Integer(), nullable=False),
        sa.Column("extra", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["invoice_id"], ["invoices.id"], ondelete="CASCADE",
                                name=op.f("fk_invoice_origins_invoice_id_invoices")),
        sa.ForeignKeyConstraint(["document_id"], ["documents.id"],
                                name=op.f("fk_invoice_origins_document_id_documents")),
        sa.ForeignKeyConstraint(["import_id"], ["invoice_imports.id"],
                                name=op.f("fk_invoice_origins_import_id_invoice_imports")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invoice_origins")),
        sa.UniqueConstraint("invoice_id", name=op.f("uq_invoice_origins_invoice_id")),
    )
    op.create_index(op.f("ix_invoice_origins_external_id"), "invoice_origins", ["external_id"])
    op.create_table(
        "customer_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("external_id", sa.String(length=100), nullable=True),
        sa.Column("tax_id", sa.String(length=64), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"], ondelete="CASCADE",
                                name=op.f("fk_customer_links_customer_id_customers")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer_links")),
        sa.UniqueConstraint("source", "external_id", name=op.f("uq_customer_links_source")),
    )
    op.create_index(op.f("ix_customer_links_customer_id"), "customer_links", ["customer_id"])
    op.create_index(op.f("ix_customer_links_tax_id"), "customer_links", ["tax_id"])


def downgrade() -> None:
    op.drop_table("customer_links")
    op.drop_table("invoice_origins")
    op.drop_table("invoice_imports")

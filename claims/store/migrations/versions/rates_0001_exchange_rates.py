"""exchange rates: dated rates of each currency to the base currency

Revision ID: rates_0001
Revises: collections_0001
"""
from alembic import op
import sqlalchemy as sa


revision = "rates_0001"
down_revision = "collections_0001"
branch_labels = ("rates",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "collection_exchange_rates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("base", sa.String(length=3), nullable=False),
        sa.Column("rate", sa.String(length=40), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_collection_exchange_rates")),
        sa.UniqueConstraint("day", "currency", "base",
                            name=op.f("uq_collection_exchange_rates_day")),
    )


def downgrade() -> None:
    op.drop_table("collection_exchange_rates")

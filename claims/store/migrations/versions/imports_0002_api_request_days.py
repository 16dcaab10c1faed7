"""invoice sources: api_request_days (requests per UTC day and account, for Zoho's daily budget)

Revision ID: imports_0002
Revises: imports_0001
"""
import sqlalchemy as sa
from alembic import op

revision = "imports_0002"
down_revision = "imports_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "api_request_days",
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("account", sa.String(length=100), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("requests", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("source", "account", "day", name=op.f("pk_api_request_days")),
    )


def downgrade() -> None:
    op.drop_table("api_request_days")

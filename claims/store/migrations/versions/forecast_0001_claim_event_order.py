"""forecast: index claim events in the order the forecast reads them

The forecast loads every claim's statuses in time order (``claims.forecast.queries``:
``ORDER BY claim_id, at, id``). With only the index on ``claim_id`` SQLite sorted each claim's
events in a temporary B-tree and looked each status up in the table: 0.40 s of the 440,000
events of the 100,000-open benchmark. This index holds them in that order with their status
(covering: the table is not read), 0.27 s.

Revision ID: forecast_0001
Revises: 0001
"""
from alembic import op


revision = "forecast_0001"
down_revision = "0001"
branch_labels = ("forecast",)
depends_on = None


def upgrade() -> None:
    op.create_index("ix_claim_events_claim_order", "claim_events",
                    ["claim_id", "at", "id", "status"])


def downgrade() -> None:
    op.drop_index("ix_claim_events_claim_order", table_name="claim_events")

"""followup: the run holding a reservation (host:pid:uuid) and its lease, so a second run
never calls a live run's in-flight send stuck

Revision ID: followup_0001
Revises: collections_0001
"""
from alembic import op
import sqlalchemy as sa


revision = "followup_0001"
down_revision = "collections_0001"
branch_labels = ("followup_leases",)
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("dunning_sends", schema=None) as batch_op:
        batch_op.add_column(sa.Column("run_owner", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("lease_expires_at", sa.DateTime(timezone=True),
                                      nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("dunning_sends", schema=None) as batch_op:
        batch_op.drop_column("lease_expires_at")
        batch_op.drop_column("run_owner")

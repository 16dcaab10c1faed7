"""structured interactions: direction, contact, outcome, next action and its date

Revision ID: interactions_0001
Revises: collections_0001

Entries written before this revision have no outcome, except those the system wrote for a
promise (``promised``) or an opened dispute (``disputed``): someone was reached then. Only an
outcome that reached someone resets the silence clock of the escalation rules, so an old note
whose outcome is unknown no longer counts as an answer.
"""
from alembic import op
import sqlalchemy as sa


revision = "interactions_0001"
down_revision = "collections_0001"
branch_labels = ("interactions",)
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("collection_interactions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("direction", sa.String(length=8), nullable=True))
        batch_op.add_column(sa.Column("contact", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("outcome", sa.String(length=24), nullable=True))
        batch_op.add_column(sa.Column("next_action", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("next_action_date", sa.Date(), nullable=True))
        batch_op.create_index(batch_op.f("ix_collection_interactions_next_action_date"),
                              ["next_action_date"], unique=False)
    op.execute("UPDATE collection_interactions SET outcome = 'promised' "
               "WHERE summary LIKE 'promise #%'")
    op.execute("UPDATE collection_interactions SET outcome = 'disputed' "
               "WHERE summary LIKE 'dispute #% opened%'")


def downgrade() -> None:
    with op.batch_alter_table("collection_interactions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_collection_interactions_next_action_date"))
        batch_op.drop_column("next_action_date")
        batch_op.drop_column("next_action")
        batch_op.drop_column("outcome")
        batch_op.drop_column("contact")
        batch_op.drop_column("direction")

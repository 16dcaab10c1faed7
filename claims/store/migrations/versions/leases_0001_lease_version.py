"""lease version: a fencing token, incremented at every take of a claim

Revision ID: leases_0001
Revises: 0003
"""
from alembic import op
import sqlalchemy as sa


revision = 'leases_0001'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('claims', schema=None) as batch_op:
        batch_op.add_column(sa.Column('lease_version', sa.Integer(), nullable=False,
                                      server_default='0'))


def downgrade() -> None:
    with op.batch_alter_table('claims', schema=None) as batch_op:
        batch_op.drop_column('lease_version')

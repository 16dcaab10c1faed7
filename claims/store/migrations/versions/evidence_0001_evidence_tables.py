"""evidence: the archive's tables (entries, checkpoints, cosignatures, state, node cache)

Before this revision the archive created its own tables when it was opened, so a workspace may
hold them already, in the older shape: ``evidence_checkpoints`` without ``origin``/``key_hash``
(C2SP signed-note checkpoints) and no ``evidence_cosignatures``. This revision creates what is
missing and adds the new columns to what exists; rows are kept as they are (an old checkpoint
keeps ``origin`` NULL: a legacy, JSON-signed one, still verified).

Revision ID: evidence_0001
Revises: 0001
"""
from alembic import op
import sqlalchemy as sa


revision = "evidence_0001"
down_revision = "0001"
branch_labels = ("evidence",)
depends_on = None


def _tables() -> dict[str, tuple[sa.Column, ...]]:
    # the shape as of this revision (a snapshot: later changes are later revisions)
    return {
        "evidence_entries": (
            sa.Column("idx", sa.BigInteger(), primary_key=True, autoincrement=False),
            sa.Column("leaf", sa.LargeBinary(), nullable=False),
            sa.Column("leaf_hash", sa.LargeBinary(32), nullable=False),
            sa.Column("kind", sa.String(100), nullable=False),
            sa.Column("claim", sa.String(200), nullable=True),
            sa.Column("recorded_at", sa.String(32), nullable=False),
        ),
        "evidence_checkpoints": (
            sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
            sa.Column("tree_size", sa.BigInteger(), nullable=False),
            sa.Column("root_hash", sa.LargeBinary(32), nullable=False),
            sa.Column("time", sa.String(32), nullable=False),
            sa.Column("key_id", sa.String(64), nullable=False),
            sa.Column("signature", sa.LargeBinary(64), nullable=False),
            sa.Column("origin", sa.String(200), nullable=True),
            sa.Column("key_hash", sa.LargeBinary(4), nullable=True),
        ),
        "evidence_cosignatures": (
            sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
            sa.Column("checkpoint_id", sa.Integer(), nullable=False),
            sa.Column("witness", sa.String(200), nullable=False),
            sa.Column("line", sa.Text(), nullable=False),
        ),
        "evidence_state": (
            sa.Column("id", sa.Integer(), primary_key=True, autoincrement=False),
            sa.Column("size", sa.BigInteger(), nullable=False),
            sa.Column("compact", sa.LargeBinary(), nullable=False),
        ),
        "evidence_nodes": (
            sa.Column("height", sa.Integer(), primary_key=True, autoincrement=False),
            sa.Column("idx", sa.BigInteger(), primary_key=True, autoincrement=False),
            sa.Column("hash", sa.LargeBinary(32), nullable=False),
        ),
    }


# the indexes the archive's own create_all made (names from SQLAlchemy's ix_<table>_<column>)
_INDEXES = {
    "evidence_entries": ("claim", "recorded_at"),
    "evidence_cosignatures": ("checkpoint_id",),
}


def upgrade() -> None:
    inspector = sa.inspect(op.get_bind())
    existing = set(inspector.get_table_names())
    for name, columns in _tables().items():
        if name not in existing:
            op.create_table(name, *columns)
            for column in _INDEXES.get(name, ()):
                op.create_index(f"ix_{name}_{column}", name, [column])
            continue
        have = {c["name"] for c in inspector.get_columns(name)}
        missing = [c for c in columns if c.name not in have]
        if missing:
            with op.batch_alter_table(name) as batch:
                for column in missing:
                    batch.add_column(column)
        indexed = {tuple(i["column_names"]) for i in inspector.get_indexes(name)}
        for column in _INDEXES.get(name, ()):
            if (column,) not in indexed:
                op.create_index(f"ix_{name}_{column}", name, [column])
    state = sa.table("evidence_state", sa.column("id", sa.Integer()),
                     sa.column("size", sa.BigInteger()), sa.column("compact", sa.LargeBinary()))
    bind = op.get_bind()
    if bind.execute(sa.select(state.c.id).where(state.c.id == 1)).first() is None:
        bind.execute(sa.insert(state).values(id=1, size=0, compact=b""))


def downgrade() -> None:
    # the evidence log is append-only: a downgrade keeps it (upgrade() finds it again)
    pass

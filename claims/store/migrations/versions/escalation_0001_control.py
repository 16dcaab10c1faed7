"""escalation as a control: proposals with status, the decision log, posted write-offs

Revision ID: escalation_0001
Revises: collections_0001

An escalation row becomes a proposal with a status (proposed, approved, rejected, revoked);
the one-row-per-(invoice, action) rule gives way to "one live escalation per invoice", kept by
the code. Rows approved before this revision stay approved (their approver is also recorded as
the proposer), and each approved write-off among them is posted now as a ``writeoff`` payment
application dated the day it was approved, so receivables, KPIs and reconciliation agree.
"""
from datetime import UTC, datetime

from alembic import op
import sqlalchemy as sa


revision = "escalation_0001"
down_revision = "collections_0001"
branch_labels = ("escalation",)
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("collection_escalations", schema=None) as batch_op:
        batch_op.drop_constraint("uq_collection_escalations_invoice_id", type_="unique")
        batch_op.alter_column("approved_by", existing_type=sa.String(length=100), nullable=True)
        batch_op.alter_column("approved_at", existing_type=sa.DateTime(timezone=True),
                              nullable=True)
        batch_op.add_column(sa.Column("status", sa.String(length=16), nullable=False,
                                      server_default="approved"))
        batch_op.add_column(sa.Column("proposed_by", sa.String(length=100), nullable=False,
                                      server_default=""))
        batch_op.add_column(sa.Column("proposed_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("override_reason", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("application_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            op.f("fk_collection_escalations_application_id_payment_applications"),
            "payment_applications", ["application_id"], ["id"])
        batch_op.create_index(batch_op.f("ix_collection_escalations_invoice_id"),
                              ["invoice_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_collection_escalations_status"), ["status"],
                              unique=False)
    op.create_table(
        "collection_escalation_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("escalation_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("override", sa.Boolean(), nullable=False),
        sa.Column("evidence_index", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["escalation_id"], ["collection_escalations.id"],
            name=op.f("fk_collection_escalation_events_escalation_id_collection_escalations")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_collection_escalation_events")),
    )
    with op.batch_alter_table("collection_escalation_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_collection_escalation_events_escalation_id"),
                              ["escalation_id"], unique=False)
    _carry_over()


def _carry_over() -> None:
    """Earlier approvals: proposer = approver, a log line each, write-offs posted."""
    conn = op.get_bind()
    conn.execute(sa.text("UPDATE collection_escalations SET proposed_by = approved_by, "
                         "proposed_at = approved_at"))
    rows = list(conn.execute(sa.text(
        "SELECT x.id, x.customer_id, x.invoice_id, x.action, x.amount, x.reason, "
        "x.approved_by, x.approved_at, i.currency, i.number FROM collection_escalations x "
        "JOIN invoices i ON i.id = x.invoice_id ORDER BY x.id")))
    now = datetime.now(UTC)
    for r in rows:
        when = r.approved_at or now
        for kind in ("proposed", "approved"):
            conn.execute(sa.text(
                "INSERT INTO collection_escalation_events (escalation_id, at, kind, actor, "
                "note, override) VALUES (:e, :at, :k, :a, :n, :o)"),
                {"e": r.id, "at": when, "k": kind, "a": r.approved_by or "", "o": False,
                 "n": r.reason if kind == "proposed" else "approved before decisions were "
                                                          "logged"})
        if r.action != "write-off":
            continue
        posted = conn.execute(sa.text("SELECT id FROM payments WHERE external_id = :x"),
                              {"x": f"writeoff:escalation:{r.id}"}).scalar()
        if posted is not None:  # posted before a downgrade: link it, never post twice
            conn.execute(sa.text(
                "UPDATE collection_escalations SET application_id = (SELECT MIN(id) FROM "
                "payment_applications WHERE payment_id = :p) WHERE id = :e"),
                {"p": posted, "e": r.id})
            continue
        day = when.date() if isinstance(when, datetime) else datetime.fromisoformat(
            str(when)).date()
        conn.execute(sa.text(
            "INSERT INTO payments (source, external_id, value_date, amount, currency, "
            "customer_id, reference, remittance, created_at) VALUES ('writeoff', :x, :d, 0, "
            ":c, :cust, :ref, :rem, :now)"),
            {"x": f"writeoff:escalation:{r.id}", "d": day, "c": r.currency,
             "cust": r.customer_id, "ref": r.number, "rem": f"write-off: {r.reason}",
             "now": now})
        pid = conn.execute(sa.text("SELECT id FROM payments WHERE external_id = :x"),
                           {"x": f"writeoff:escalation:{r.id}"}).scalar_one()
        conn.execute(sa.text(
            "INSERT INTO payment_applications (payment_id, invoice_id, amount, kind, "
            "confidence, reason, actor, applied_at) VALUES (:p, :i, :a, 'writeoff', 100, :r, "
            ":who, :at)"),
            {"p": pid, "i": r.invoice_id, "a": r.amount, "r": r.reason,
             "who": r.approved_by or "", "at": when})
        aid = conn.execute(sa.text("SELECT id FROM payment_applications WHERE payment_id = :p"),
                           {"p": pid}).scalar_one()
        conn.execute(sa.text("UPDATE collection_escalations SET application_id = :a "
                             "WHERE id = :e"), {"a": aid, "e": r.id})


def downgrade() -> None:
    """Back to approvals only: what was never approved (or was revoked) cannot be kept."""
    op.drop_table("collection_escalation_events")
    op.execute("DELETE FROM collection_escalations WHERE status <> 'approved'")
    with op.batch_alter_table("collection_escalations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_collection_escalations_status"))
        batch_op.drop_index(batch_op.f("ix_collection_escalations_invoice_id"))
        batch_op.drop_constraint(
            op.f("fk_collection_escalations_application_id_payment_applications"),
            type_="foreignkey")
        for column in ("application_id", "override_reason", "proposed_at", "proposed_by",
                       "status"):
            batch_op.drop_column(column)
        batch_op.alter_column("approved_by", existing_type=sa.String(length=100), nullable=False)
        batch_op.alter_column("approved_at", existing_type=sa.DateTime(timezone=True),
                              nullable=False)
        batch_op.create_unique_constraint("uq_collection_escalations_invoice_id",
                                          ["invoice_id", "action"])

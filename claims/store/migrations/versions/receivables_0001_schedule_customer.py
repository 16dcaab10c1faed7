"""receivables: the invoice's customer copied onto its schedule rows, and an index by customer

The worklist adds up every open item per customer and currency. Its rows came from the
schedule (in invoice order) joined to the invoice (for the customer), so each computation
sorted 100,000 rows by customer (SQLite has no hash aggregation: ~100 ms of a 300 ms page).
With the customer on the schedule row and an index that holds every column the open-items
rule reads (``ix_collection_schedule_customer``), the sum per customer and currency reads the
index in its order: no sort, no temporary table.

``collection_schedule.customer_id`` is written by the database itself, like the copies of
migration ``kpis_0001`` (whose ``issue_date`` and ``currency`` the index includes): on every
insert of a schedule row, when a row is moved to another invoice, and when an invoice's
customer changes. Nothing else writes it. On SQLite kpis_0001's two schedule triggers are
replaced by ones that also write the customer (one UPDATE of the new row, not two); a
downgrade puts kpis_0001's back.

Revision ID: receivables_0001
Revises: kpis_0001
"""
from alembic import op
import sqlalchemy as sa

from claims.store.migrations.versions import kpis_0001_copied_dates as kpis


revision = "receivables_0001"
down_revision = "kpis_0001"
branch_labels = None
depends_on = None

#: the columns of the index, in its order: the grouping keys first, then everything the
#: open-items rule (``claims.collections.receivables.items_cte``) reads of a schedule row
INDEX_COLUMNS = ["customer_id", "currency", "due_date", "issue_date", "seq", "amount",
                 "invoice_id", "basis"]
#: … of the rows with a customer only (the only ones open-items reads): a new row enters the
#: index once, when its trigger writes its customer, not first without one and then again
INDEX_WHERE = "customer_id IS NOT NULL"

_CUSTOMER_OF = "(SELECT i.customer_id FROM invoices i WHERE i.id = {row}.invoice_id)"

# SQLite: kpis_0001's schedule triggers already rewrite the new row once (its copies); they are
# replaced by ones that write the customer in the same UPDATE (a second UPDATE per row made
# writing 100,000 schedule rows twice as slow), and an invoice's new customer is copied down.
_SET = f"{kpis._schedule_set('NEW')}, customer_id = {_CUSTOMER_OF.format(row='NEW')}"

SQLITE_TRIGGERS = {
    "kpi_schedule_insert": f"""
CREATE TRIGGER kpi_schedule_insert AFTER INSERT ON collection_schedule BEGIN
  UPDATE collection_schedule SET {_SET} WHERE id = NEW.id;
  UPDATE payment_applications SET due_date = {kpis._DUE_OF} WHERE invoice_id = NEW.invoice_id;
END""",
    "kpi_schedule_update": f"""
CREATE TRIGGER kpi_schedule_update AFTER UPDATE OF invoice_id, seq, due_date
ON collection_schedule BEGIN
  UPDATE collection_schedule SET {_SET} WHERE id = NEW.id;
  UPDATE payment_applications SET due_date = {kpis._DUE_OF}
   WHERE invoice_id IN (OLD.invoice_id, NEW.invoice_id);
END""",
    "receivables_invoice_customer": """
CREATE TRIGGER receivables_invoice_customer AFTER UPDATE OF customer_id ON invoices BEGIN
  UPDATE collection_schedule SET customer_id = NEW.customer_id WHERE invoice_id = NEW.id;
END""",
}

# PostgreSQL: a BEFORE trigger of its own sets the new row's customer (no second write)
_PG_FUNCTIONS = {
    "receivables_schedule_customer": """
CREATE FUNCTION receivables_schedule_customer() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  SELECT i.customer_id INTO NEW.customer_id FROM invoices i WHERE i.id = NEW.invoice_id;
  RETURN NEW;
END $$""",
    "receivables_invoice_customer": """
CREATE FUNCTION receivables_invoice_customer() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE collection_schedule SET customer_id = NEW.customer_id WHERE invoice_id = NEW.id;
  RETURN NULL;
END $$""",
}

PG_TRIGGERS = {
    "receivables_schedule_customer": "CREATE TRIGGER receivables_schedule_customer BEFORE "
                                     "INSERT OR UPDATE OF invoice_id ON collection_schedule "
                                     "FOR EACH ROW EXECUTE FUNCTION "
                                     "receivables_schedule_customer()",
    "receivables_invoice_customer": "CREATE TRIGGER receivables_invoice_customer AFTER UPDATE "
                                    "OF customer_id ON invoices FOR EACH ROW WHEN "
                                    "(OLD.customer_id IS DISTINCT FROM NEW.customer_id) "
                                    "EXECUTE FUNCTION receivables_invoice_customer()",
}

_TRIGGER_TABLES = {"receivables_schedule_customer": "collection_schedule",
                   "receivables_invoice_customer": "invoices"}


def upgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    op.add_column("collection_schedule", sa.Column("customer_id", sa.Integer(), nullable=True))
    # the copies of the rows already there (an existing database upgrading)
    op.execute("UPDATE collection_schedule SET customer_id = "
               + _CUSTOMER_OF.format(row="collection_schedule"))
    op.create_index("ix_collection_schedule_customer", "collection_schedule", INDEX_COLUMNS,
                    postgresql_where=sa.text(INDEX_WHERE), sqlite_where=sa.text(INDEX_WHERE))
    if postgresql:
        for body in _PG_FUNCTIONS.values():
            op.execute(body)
        for body in PG_TRIGGERS.values():
            op.execute(body)
        op.execute("ANALYZE collection_schedule")
    else:
        for name, body in SQLITE_TRIGGERS.items():
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
            op.execute(body)


def downgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    if postgresql:
        for name in PG_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {name} ON {_TRIGGER_TABLES[name]}")
        for name in _PG_FUNCTIONS:
            op.execute(f"DROP FUNCTION IF EXISTS {name}()")
    else:
        for name in SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
            if name in kpis.SQLITE_TRIGGERS:  # kpis_0001's own again
                op.execute(kpis.SQLITE_TRIGGERS[name])
    op.drop_index("ix_collection_schedule_customer", table_name="collection_schedule")
    if postgresql:
        op.drop_column("collection_schedule", "customer_id")
    else:  # in place (SQLite 3.35+): a batch copy of the table would trip kpis_0001's triggers
        op.execute("ALTER TABLE collection_schedule DROP COLUMN customer_id")

"""kpis: the dates the KPIs group by, copied onto the rows they scan, kept by triggers

The KPI scans (``claims.reports.sql``) group a million applications by their invoice's issue
date and due date and their payment's value date; joining four tables of a million rows each
for it cost PostgreSQL most of its time. So each row carries copies, written by the database
itself (here the one place of the rule; nothing else writes these columns):

* ``collection_schedule.issue_date``, ``.currency``: the invoice's;
* ``payment_applications.value_date``: the payment's; ``.issue_date``, ``.currency``: the
  invoice's; ``.due_date``: the due date of the invoice's single-due schedule row (seq 0),
  NULL when it has none (instalments).

Triggers keep them right on every insert and on every change of a source column (a payment's
value date, an invoice's dates or currency, schedule rows rewritten or deleted). On
PostgreSQL the KPI grouping keys also get extended statistics (ndistinct), so the planner
expects the few thousand groups there are rather than one per row.

Revision ID: kpis_0001
Revises: payments_0002
"""
from alembic import op
import sqlalchemy as sa


revision = "kpis_0001"
down_revision = "payments_0002"
branch_labels = None
depends_on = "collections_0001"

#: (table, column, type) of every copied column
COPIES = (
    ("collection_schedule", "issue_date", sa.Date()),
    ("collection_schedule", "currency", sa.String(length=3)),
    ("payment_applications", "value_date", sa.Date()),
    ("payment_applications", "issue_date", sa.Date()),
    ("payment_applications", "currency", sa.String(length=3)),
    ("payment_applications", "due_date", sa.Date()),
)

# -- the copies as SQL expressions of the row's own keys (both dialects) ---------------------

def _app_set(a: str) -> str:
    """SET list giving the application row named ``a`` (or NEW) its copies."""
    return (f"value_date = (SELECT p.value_date FROM payments p WHERE p.id = {a}.payment_id), "
            f"issue_date = (SELECT i.issue_date FROM invoices i WHERE i.id = {a}.invoice_id), "
            f"currency = (SELECT i.currency FROM invoices i WHERE i.id = {a}.invoice_id), "
            f"due_date = (SELECT s.due_date FROM collection_schedule s "
            f"WHERE s.invoice_id = {a}.invoice_id AND s.seq = 0)")


def _schedule_set(s: str) -> str:
    return (f"issue_date = (SELECT i.issue_date FROM invoices i WHERE i.id = {s}.invoice_id), "
            f"currency = (SELECT i.currency FROM invoices i WHERE i.id = {s}.invoice_id)")


_DUE_OF = ("(SELECT s.due_date FROM collection_schedule s "
           "WHERE s.invoice_id = payment_applications.invoice_id AND s.seq = 0)")

# -- SQLite: row triggers (AFTER, updating the row by id; recursive triggers are off) -------

SQLITE_TRIGGERS = {
    "kpi_app_insert": f"""
CREATE TRIGGER kpi_app_insert AFTER INSERT ON payment_applications BEGIN
  UPDATE payment_applications SET {_app_set('NEW')} WHERE id = NEW.id;
END""",
    "kpi_app_keys": f"""
CREATE TRIGGER kpi_app_keys AFTER UPDATE OF payment_id, invoice_id ON payment_applications
BEGIN
  UPDATE payment_applications SET {_app_set('NEW')} WHERE id = NEW.id;
END""",
    "kpi_payment_value_date": """
CREATE TRIGGER kpi_payment_value_date AFTER UPDATE OF value_date ON payments BEGIN
  UPDATE payment_applications SET value_date = NEW.value_date WHERE payment_id = NEW.id;
END""",
    "kpi_invoice_dates": """
CREATE TRIGGER kpi_invoice_dates AFTER UPDATE OF issue_date, currency ON invoices BEGIN
  UPDATE payment_applications SET issue_date = NEW.issue_date, currency = NEW.currency
   WHERE invoice_id = NEW.id;
  UPDATE collection_schedule SET issue_date = NEW.issue_date, currency = NEW.currency
   WHERE invoice_id = NEW.id;
END""",
    "kpi_schedule_insert": f"""
CREATE TRIGGER kpi_schedule_insert AFTER INSERT ON collection_schedule BEGIN
  UPDATE collection_schedule SET {_schedule_set('NEW')} WHERE id = NEW.id;
  UPDATE payment_applications SET due_date = {_DUE_OF} WHERE invoice_id = NEW.invoice_id;
END""",
    "kpi_schedule_update": f"""
CREATE TRIGGER kpi_schedule_update AFTER UPDATE OF invoice_id, seq, due_date
ON collection_schedule BEGIN
  UPDATE collection_schedule SET {_schedule_set('NEW')} WHERE id = NEW.id;
  UPDATE payment_applications SET due_date = {_DUE_OF}
   WHERE invoice_id IN (OLD.invoice_id, NEW.invoice_id);
END""",
    "kpi_schedule_delete": f"""
CREATE TRIGGER kpi_schedule_delete AFTER DELETE ON collection_schedule BEGIN
  UPDATE payment_applications SET due_date = {_DUE_OF} WHERE invoice_id = OLD.invoice_id;
END""",
}

# -- PostgreSQL: BEFORE row triggers fill the row itself (no second write of the row); the
# -- schedule's effect on applications runs once per statement over its transition table, so
# -- a COPY of a million schedule rows costs one join, not a million lookups

_PG_FUNCTIONS = {
    "kpi_app_copies": """
CREATE FUNCTION kpi_app_copies() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  SELECT p.value_date INTO NEW.value_date FROM payments p WHERE p.id = NEW.payment_id;
  SELECT i.issue_date, i.currency INTO NEW.issue_date, NEW.currency
    FROM invoices i WHERE i.id = NEW.invoice_id;
  SELECT s.due_date INTO NEW.due_date FROM collection_schedule s
   WHERE s.invoice_id = NEW.invoice_id AND s.seq = 0;
  RETURN NEW;
END $$""",
    "kpi_schedule_copies": """
CREATE FUNCTION kpi_schedule_copies() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  SELECT i.issue_date, i.currency INTO NEW.issue_date, NEW.currency
    FROM invoices i WHERE i.id = NEW.invoice_id;
  RETURN NEW;
END $$""",
    "kpi_payment_value_date": """
CREATE FUNCTION kpi_payment_value_date() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE payment_applications SET value_date = NEW.value_date WHERE payment_id = NEW.id;
  RETURN NULL;
END $$""",
    "kpi_invoice_dates": """
CREATE FUNCTION kpi_invoice_dates() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE payment_applications SET issue_date = NEW.issue_date, currency = NEW.currency
   WHERE invoice_id = NEW.id;
  UPDATE collection_schedule SET issue_date = NEW.issue_date, currency = NEW.currency
   WHERE invoice_id = NEW.id;
  RETURN NULL;
END $$""",
    # the applications of the invoices whose schedule rows a statement touched (``changed``:
    # the transition tables of the statement) get their single-due date again
    "kpi_schedule_due_new": f"""
CREATE FUNCTION kpi_schedule_due_new() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE payment_applications SET due_date = {_DUE_OF}
   WHERE invoice_id IN (SELECT invoice_id FROM changed_new);
  RETURN NULL;
END $$""",
    "kpi_schedule_due_old": f"""
CREATE FUNCTION kpi_schedule_due_old() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE payment_applications SET due_date = {_DUE_OF}
   WHERE invoice_id IN (SELECT invoice_id FROM changed_old);
  RETURN NULL;
END $$""",
    "kpi_schedule_due_both": f"""
CREATE FUNCTION kpi_schedule_due_both() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE payment_applications SET due_date = {_DUE_OF}
   WHERE invoice_id IN (SELECT invoice_id FROM changed_new
                        UNION SELECT invoice_id FROM changed_old);
  RETURN NULL;
END $$""",
}

PG_TRIGGERS = {
    "kpi_app_insert": "CREATE TRIGGER kpi_app_insert BEFORE INSERT OR UPDATE OF payment_id, "
                      "invoice_id ON payment_applications FOR EACH ROW "
                      "EXECUTE FUNCTION kpi_app_copies()",
    "kpi_schedule_copies": "CREATE TRIGGER kpi_schedule_copies BEFORE INSERT OR UPDATE OF "
                           "invoice_id ON collection_schedule FOR EACH ROW "
                           "EXECUTE FUNCTION kpi_schedule_copies()",
    "kpi_payment_value_date": "CREATE TRIGGER kpi_payment_value_date AFTER UPDATE OF "
                              "value_date ON payments FOR EACH ROW WHEN "
                              "(OLD.value_date IS DISTINCT FROM NEW.value_date) "
                              "EXECUTE FUNCTION kpi_payment_value_date()",
    "kpi_invoice_dates": "CREATE TRIGGER kpi_invoice_dates AFTER UPDATE OF issue_date, "
                         "currency ON invoices FOR EACH ROW WHEN "
                         "(OLD.issue_date IS DISTINCT FROM NEW.issue_date OR "
                         "OLD.currency IS DISTINCT FROM NEW.currency) "
                         "EXECUTE FUNCTION kpi_invoice_dates()",
    "kpi_schedule_insert": "CREATE TRIGGER kpi_schedule_insert AFTER INSERT ON "
                           "collection_schedule REFERENCING NEW TABLE AS changed_new "
                           "FOR EACH STATEMENT EXECUTE FUNCTION kpi_schedule_due_new()",
    "kpi_schedule_update": "CREATE TRIGGER kpi_schedule_update AFTER UPDATE ON "
                           "collection_schedule REFERENCING NEW TABLE AS changed_new "
                           "OLD TABLE AS changed_old FOR EACH STATEMENT "
                           "EXECUTE FUNCTION kpi_schedule_due_both()",
    "kpi_schedule_delete": "CREATE TRIGGER kpi_schedule_delete AFTER DELETE ON "
                           "collection_schedule REFERENCING OLD TABLE AS changed_old "
                           "FOR EACH STATEMENT EXECUTE FUNCTION kpi_schedule_due_old()",
}

#: PostgreSQL extended statistics on the KPI grouping keys (name → table, columns)
PG_STATISTICS = {
    "kpi_schedule_keys": ("collection_schedule", "issue_date, due_date"),
    "kpi_app_keys": ("payment_applications", "issue_date, due_date, kind, value_date"),
}

# the table each trigger is on (to drop it on SQLite, where DROP TRIGGER names no table)
_TRIGGER_TABLES = {
    "kpi_app_insert": "payment_applications", "kpi_app_keys": "payment_applications",
    "kpi_payment_value_date": "payments", "kpi_invoice_dates": "invoices",
    "kpi_schedule_insert": "collection_schedule", "kpi_schedule_update": "collection_schedule",
    "kpi_schedule_delete": "collection_schedule", "kpi_schedule_copies": "collection_schedule",
}


def upgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    # the instalment rows (seq > 0) are few: the KPI split over instalments finds them (and
    # that there are none) by this index instead of scanning every schedule row twice
    op.create_index("ix_collection_schedule_instalments", "collection_schedule",
                    ["invoice_id"], postgresql_where=sa.text("seq > 0"),
                    sqlite_where=sa.text("seq > 0"))
    for table, column, type_ in COPIES:
        op.add_column(table, sa.Column(column, type_, nullable=True))
    # the copies of the rows already there (an existing database upgrading)
    op.execute(f"UPDATE collection_schedule SET {_schedule_set('collection_schedule')}")
    op.execute(f"UPDATE payment_applications SET {_app_set('payment_applications')}")
    if postgresql:
        for body in _PG_FUNCTIONS.values():
            op.execute(body)
        for body in PG_TRIGGERS.values():
            op.execute(body)
        for name, (table, columns) in PG_STATISTICS.items():
            op.execute(f"CREATE STATISTICS {name} (ndistinct) ON {columns} FROM {table}")
            op.execute(f"ANALYZE {table}")
    else:
        for body in SQLITE_TRIGGERS.values():
            op.execute(body)


def downgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    if postgresql:
        for name in PG_STATISTICS:
            op.execute(f"DROP STATISTICS IF EXISTS {name}")
        for name in PG_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {name} ON {_TRIGGER_TABLES[name]}")
        for name in _PG_FUNCTIONS:
            op.execute(f"DROP FUNCTION IF EXISTS {name}()")
    else:
        for name in SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    op.drop_index("ix_collection_schedule_instalments", table_name="collection_schedule")
    for table, column, _ in reversed(COPIES):
        with op.batch_alter_table(table) as batch:
            batch.drop_column(column)

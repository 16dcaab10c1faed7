"""Alembic environment: migrations run on the connection the store hands over.

``claims.store.tables`` holds every slice's tables and ``evidence.ledger`` the evidence archive's
(revision ``evidence_0001``), so autogenerate sees the whole schema.
"""

from alembic import context

from claims.store.tables import Base  # with every slice's tables
from evidence.ledger import metadata as evidence_metadata

config = context.config
connection = config.attributes["connection"]
context.configure(connection=connection, target_metadata=[Base.metadata, evidence_metadata],
                  render_as_batch=connection.dialect.name == "sqlite")
with context.begin_transaction():
    context.run_migrations()

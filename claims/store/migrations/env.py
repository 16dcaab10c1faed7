"""Alembic environment: migrations run on the connection the store hands over.

``claims.store.tables`` holds every slice's tables, so autogenerate sees the whole schema.
"""

from alembic import context

from claims.store.tables import Base  # with every slice's tables

config = context.config
connection = config.attributes["connection"]
context.configure(connection=connection, target_metadata=Base.metadata,
                  render_as_batch=connection.dialect.name == "sqlite")
with context.begin_transaction():
    context.run_migrations()

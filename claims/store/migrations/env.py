"""Alembic environment: migrations run on the connection the store hands over.

Each area's tables are imported so that autogenerate sees the whole schema.
"""

from alembic import context

import claims.collections.tables  # noqa: F401
import claims.payments.tables  # noqa: F401
import claims.sources.tables  # noqa: F401
from claims.store.tables import Base

config = context.config
connection = config.attributes["connection"]
context.configure(connection=connection, target_metadata=Base.metadata,
                  render_as_batch=connection.dialect.name == "sqlite")
with context.begin_transaction():
    context.run_migrations()

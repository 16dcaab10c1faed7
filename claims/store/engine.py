"""Engines and migrations: SQLite (WAL) by default, PostgreSQL by URL; Alembic from the start."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import URL, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from claims.errors import DuplicateKey, StoreError

_MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def parse_url(url: str) -> URL:
    """``url`` as a SQLAlchemy URL; :class:`StoreError` (one line) when it is not one."""
    try:
        return make_url(url)
    except (SQLAlchemyError, ValueError, TypeError) as err:
        raise StoreError(f"{url!r} is not a database URL (e.g. sqlite:///claims.db or "
                         f"postgresql+psycopg://user@host/db): {err}") from None


def resolve_url(url: str, root: Path) -> str:
    """A relative SQLite path in ``url`` becomes a path inside ``root`` (the workspace)."""
    parsed = parse_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        db = Path(parsed.database)
        if not db.is_absolute():
            return parsed.set(database=str((root / db).resolve())).render_as_string(
                hide_password=False)
    return url


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets status-sync readers run beside a writer; busy_timeout makes concurrent writers
    # wait for the lock instead of failing at once; foreign keys are off by default in SQLite.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def make_engine(url: str) -> Engine:
    """An engine for ``url`` with the pragmas / pool settings Claimwright relies on."""
    parsed = parse_url(url)
    try:
        if parsed.get_backend_name() == "sqlite":
            engine = create_engine(url)
            event.listen(engine, "connect", _sqlite_pragmas)
        else:
            engine = create_engine(url, pool_pre_ping=True)
    except (SQLAlchemyError, ImportError) as err:
        raise StoreError(f"cannot use database {parsed!r}: {err}") from err
    return engine


def alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(_MIGRATIONS))
    return cfg


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest revision (every head) unless it is there already."""
    cfg = alembic_config()
    heads = set(ScriptDirectory.from_config(cfg).get_heads())
    try:
        with engine.begin() as conn:
            current = set(MigrationContext.configure(conn).get_current_heads())
            if current == heads:
                return
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "heads")
    except SQLAlchemyError as err:
        raise StoreError(f"database migration failed: {err}") from err


def _unique_violation(err: IntegrityError) -> bool:
    """True if a unique key (or primary key) refused the row: SQLSTATE 23505 on PostgreSQL,
    ``UNIQUE constraint failed`` on SQLite; any other constraint is not a duplicate."""
    if getattr(err.orig, "sqlstate", None) == "23505":
        return True
    text = str(err.orig)
    return "UNIQUE constraint failed" in text or "PRIMARY KEY constraint failed" in text


@contextmanager
def store_errors() -> Iterator[None]:
    """The database's errors as the store's, one line each: a unique key that refused a row is
    :class:`DuplicateKey`, any other refusal or database error :class:`StoreError`."""
    try:
        yield
    except IntegrityError as err:
        if _unique_violation(err):
            raise DuplicateKey(f"the database refused the change: {err.orig}") from err
        raise StoreError(f"the database refused the change: {err.orig}") from err
    except SQLAlchemyError as err:
        raise StoreError(f"database error: {err}") from err
    except OverflowError as err:  # e.g. an id of 30 digits given on the command line
        raise StoreError(f"a number is out of the database's range: {err}") from None

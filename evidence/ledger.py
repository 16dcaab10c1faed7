"""The ledger's SQL tables (prefix ``evidence_``, own ``MetaData``) and serialised appends.

* ``evidence_entries`` — one row per leaf: its index, canonical leaf bytes and leaf hash, plus
  ``kind``/``claim``/``recorded_at`` copied out of the leaf for querying (verification checks they
  agree with the leaf).
* ``evidence_checkpoints`` — signed tree heads, in the order they were made.
* ``evidence_cosignatures`` — the witnesses' cosignature lines of a checkpoint.
* ``evidence_state`` — one row: the tree size and its compact range (the O(log n) right edge of the
  tree), so a checkpoint is signed without reading every leaf.
* ``evidence_nodes`` — a cache of complete subtree hashes of ``2**NODE_MIN_HEIGHT`` leaves or more
  (about n/128 rows), so an inclusion or consistency proof reads O(log n) rows, not every leaf.
  It is derived data: verification recomputes it from the leaves and reports any difference.

Appends are serialised: on PostgreSQL by ``pg_advisory_xact_lock`` in the append transaction, on
SQLite by ``BEGIN IMMEDIATE`` (the write lock is taken before anything is read). In both, the first
statement also writes the state row, which any other database serialises too.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import (BigInteger, Column, Connection, Engine, Integer, LargeBinary, MetaData,
                        String, Table, Text, bindparam, insert, select, update)
from sqlalchemy.exc import SQLAlchemyError

from evidence import merkle
from evidence.errors import LedgerError
from evidence.verifier_core import entry_span

metadata = MetaData()

entries_table = Table(
    "evidence_entries", metadata,
    Column("idx", BigInteger, primary_key=True, autoincrement=False),
    Column("leaf", LargeBinary, nullable=False),
    Column("leaf_hash", LargeBinary(32), nullable=False),
    Column("kind", String(100), nullable=False),
    Column("claim", String(200), nullable=True, index=True),
    Column("recorded_at", String(32), nullable=False, index=True),
)

checkpoints_table = Table(
    "evidence_checkpoints", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("tree_size", BigInteger, nullable=False),
    Column("root_hash", LargeBinary(32), nullable=False),
    Column("time", String(32), nullable=False),
    Column("key_id", String(64), nullable=False),
    Column("signature", LargeBinary(64), nullable=False),
    Column("origin", String(200), nullable=True),  # None: a legacy (v1, JSON-signed) checkpoint
    Column("key_hash", LargeBinary(4), nullable=True),
)

cosignatures_table = Table(
    "evidence_cosignatures", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("checkpoint_id", Integer, nullable=False, index=True),
    Column("witness", String(200), nullable=False),
    Column("line", Text, nullable=False),
)

state_table = Table(
    "evidence_state", metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("size", BigInteger, nullable=False),
    Column("compact", LargeBinary, nullable=False),
)

nodes_table = Table(
    "evidence_nodes", metadata,
    Column("height", Integer, primary_key=True, autoincrement=False),
    Column("idx", BigInteger, primary_key=True, autoincrement=False),
    Column("hash", LargeBinary(32), nullable=False),
)

# Subtrees of at least 2**NODE_MIN_HEIGHT leaves are cached; smaller ones are hashed from leaves.
NODE_MIN_HEIGHT = 8

# Key of the PostgreSQL advisory lock that serialises appends: "evidence" in ASCII.
ADVISORY_LOCK_KEY = int.from_bytes(b"evidence", "big")


def create_schema(bind: Engine | Connection) -> None:
    """Create the evidence tables (if missing) and the state row. Idempotent.

    For the archive used on its own (:meth:`EvidenceArchive.open` by default). Claimwright's
    workspaces get the same tables from their Alembic revision ``evidence_0001`` instead, and open
    the archive with ``create_tables=False``.
    """
    try:
        if isinstance(bind, Engine):
            # Several workers may open the archive at once: take the append lock first, so one
            # creates the tables and the others then find them.
            with bind.connect() as conn:
                _lock(conn)
                _create(conn)
                conn.commit()
        else:
            _create(bind)
    except SQLAlchemyError as err:
        raise LedgerError(f"cannot create the evidence tables: {err}") from err


def _lock(conn: Connection) -> None:
    """Take the ledger's write lock for the rest of this transaction."""
    if conn.dialect.name == "sqlite":
        driver = conn.connection.driver_connection
        # pysqlite (legacy transaction control) has not begun anything on a fresh connection;
        # an engine configured to emit its own BEGIN has, and then the first write takes the lock.
        if not getattr(driver, "in_transaction", True):
            conn.exec_driver_sql("BEGIN IMMEDIATE")
    elif conn.dialect.name == "postgresql":
        conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({ADVISORY_LOCK_KEY})")


def _create(conn: Connection) -> None:
    metadata.create_all(conn, checkfirst=True)
    # No race here: through an engine this runs under the append lock, and a migration runs alone.
    if conn.execute(select(state_table.c.id)).first() is None:
        conn.execute(insert(state_table).values(id=1, size=0, compact=b""))


def split_compact(blob: bytes) -> list[bytes]:
    """The compact range stored as concatenated 32-byte hashes."""
    return [blob[i:i + 32] for i in range(0, len(blob), 32)]


# An append's statements, built once: SQLAlchemy reuses their compiled form without building
# them and their cache keys again at every append (two appends per claim submitted).
_TOUCH_STATE = (update(state_table).where(state_table.c.id == 1)
                .values(size=state_table.c.size))
_TOUCH_READ_STATE = _TOUCH_STATE.returning(state_table.c.size, state_table.c.compact)
_READ_STATE = select(state_table.c.size, state_table.c.compact).where(state_table.c.id == 1)
_SET_STATE = (update(state_table).where(state_table.c.id == 1)
              .values(size=bindparam("new_size"), compact=bindparam("new_compact")))
_LAST_CLAIM_LEAF = (select(entries_table.c.leaf_hash)
                    .where(entries_table.c.claim == bindparam("claim"))
                    .order_by(entries_table.c.idx.desc()).limit(1))
_INSERT_ENTRY = insert(entries_table)
_INSERT_NODES = insert(nodes_table)


@contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    """A transaction that holds the ledger's append lock from its first statement."""
    with _locked(engine, read=False) as (conn, _):
        yield conn


@contextmanager
def _locked(engine: Engine, *, read: bool
            ) -> Iterator[tuple[Connection, tuple[int, list[bytes]] | None]]:
    """:func:`write_transaction`, and with ``read`` the state (tree size, compact range) read
    under the lock: by the locking statement itself where the database returns rows from an
    UPDATE (SQLite 3.35+, PostgreSQL), else by one more select."""
    try:
        with engine.connect() as conn:
            _lock(conn)
            # a write first: on any other database this row lock serialises appends
            state = None
            if read and conn.dialect.update_returning:
                size, compact = conn.execute(_TOUCH_READ_STATE).one()
                state = int(size), split_compact(bytes(compact))
            else:
                conn.execute(_TOUCH_STATE)
                state = read_state(conn) if read else None
            yield conn, state
            conn.commit()
    except SQLAlchemyError as err:
        raise LedgerError(f"evidence ledger write failed: {err}") from err


def subtree_reader(conn: Connection) -> merkle.Subtree:
    """Subtree hashes of the stored tree: cached nodes, else hashed from leaf hashes."""
    def lookup(height: int, index: int) -> bytes | None:
        row = conn.execute(select(nodes_table.c.hash).where(
            nodes_table.c.height == height, nodes_table.c.idx == index)).first()
        if row is None:
            return None
        value = as_bytes(row.hash)
        if value is None or len(value) != 32:
            raise LedgerError(f"evidence_nodes height {height} index {index}: not a 32-byte hash")
        return value

    def leaves(start: int, end: int) -> list[bytes]:
        t = entries_table
        rows = conn.execute(select(t.c.idx, t.c.leaf_hash).where(t.c.idx >= start, t.c.idx < end)
                            .order_by(t.c.idx))
        out = []
        for idx, cell in rows:
            value = as_bytes(cell)
            if value is None or len(value) != 32:
                raise LedgerError(f"evidence entry {idx}: leaf_hash is not a 32-byte hash")
            out.append(value)
        if len(out) != end - start:
            raise LedgerError(f"evidence {entry_span(start, end)}: {end - start - len(out)} "
                              "missing")
        return out

    return merkle.subtree_from(lookup, leaves, NODE_MIN_HEIGHT)


def read_state(conn: Connection) -> tuple[int, list[bytes]]:
    """(tree size, compact range) as stored."""
    row = conn.execute(_READ_STATE).one_or_none()
    if row is None:
        raise LedgerError("evidence_state: its row (the log's size and compact range) was "
                          "deleted: the ledger can be neither verified nor appended to until "
                          "it is restored from a backup [rule: state-missing]")
    return int(row.size), split_compact(bytes(row.compact))


def as_bytes(value: Any) -> bytes | None:
    """A binary cell as bytes, or None when the cell holds something else (an edited row)."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    return None


def last_claim_leaf(conn: Connection, claim: str) -> bytes | None:
    """The leaf hash of the latest entry of ``claim`` (None if it has none)."""
    row = conn.execute(_LAST_CLAIM_LEAF, {"claim": claim}).first()
    return as_bytes(row.leaf_hash) if row else None


MakeLeaf = Callable[[int, bytes | None], tuple[bytes, dict[str, Any]]]


def append(engine: Engine, claim: str | None, make_leaf: MakeLeaf,
           after: Callable[[Connection], Any] | None = None) -> tuple[int, bytes, bytes, Any]:
    """Append one leaf; returns (index, leaf, leaf hash, what ``after`` returned).

    ``make_leaf(index, previous leaf hash of the claim)`` builds it under the lock and returns the
    canonical leaf bytes and the columns copied out of it (kind, claim, recorded_at). ``after``
    runs in the same transaction once the leaf is in (e.g. to sign a checkpoint ending with it).
    """
    appended, extra = append_many(engine, [(claim, make_leaf)], after)
    return (*appended[0], extra)


def append_many(engine: Engine, leaves: Sequence[tuple[str | None, MakeLeaf]],
                after: Callable[[Connection], Any] | None = None
                ) -> tuple[list[tuple[int, bytes, bytes]], Any]:
    """Append ``leaves`` ((claim, make_leaf) pairs, as :func:`append` takes) in order, in one
    transaction: all or none. Returns ((index, leaf, leaf hash) of each, what ``after``
    returned)."""
    out: list[tuple[int, bytes, bytes]] = []
    with _locked(engine, read=True) as (conn, state):
        size, compact = state  # type: ignore[misc]
        for claim, make_leaf in leaves:
            # an earlier leaf of the same claim in this transaction is seen here
            previous = last_claim_leaf(conn, claim) if claim is not None else None
            leaf, columns = make_leaf(size, previous)
            leaf_hash = merkle.leaf_hash(leaf)
            conn.execute(_INSERT_ENTRY, {"idx": size, "leaf": leaf, "leaf_hash": leaf_hash,
                                         **columns})
            compact, made = merkle.compact_append_nodes(compact, size, leaf_hash)
            cached = [{"height": h, "idx": i, "hash": node} for h, i, node in made
                      if h >= NODE_MIN_HEIGHT]
            if cached:
                conn.execute(_INSERT_NODES, cached)
            out.append((size, leaf, leaf_hash))
            size += 1
        conn.execute(_SET_STATE, {"new_size": size, "new_compact": b"".join(compact)})
        extra = after(conn) if after is not None else None
    return out, extra

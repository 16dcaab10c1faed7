"""Local accounts of the web workspace: people, their roles, their password hashes, and the
throttle that slows down password guessing.

Passwords are hashed with scrypt (``hashlib.scrypt``, memory-hard: 2**15 × 8 × 128 bytes = 32 MiB
per guess), a random 16-byte salt each, the parameters stored with the hash so they can be raised
later. Nothing here keeps or logs a password.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from claims.errors import ConflictError, InputError, NotFound, UnknownName
from claims.store import Store
from claims.store.tables import utcnow
from claims.store.tables.users import UserRow

#: The roles: a specialist works claims, collections and payments; an auditor reads and
#: verifies and exports, and changes nothing; an admin may do both (and is a specialist too).
ROLES = ("specialist", "auditor", "admin")
#: Roles that may change anything (every POST but sign-in/out is refused to the others).
WRITER_ROLES = frozenset({"specialist", "admin"})

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**15, 8, 1
MIN_PASSWORD = 10
NAME_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789._-@")


@dataclass(frozen=True)
class User:
    """A signed-up person: name and role (never the hash)."""

    name: str
    role: str

    @property
    def can_write(self) -> bool:
        """Whether this person may change anything (specialist or admin)."""
        return self.role in WRITER_ROLES


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def hash_password(password: str) -> str:
    """``scrypt$N$r$p$salt$hash`` of ``password`` with a fresh salt."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=SCRYPT_N, r=SCRYPT_R,
                            p=SCRYPT_P, maxmem=64 * 1024 * 1024, dklen=32)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${_b64(salt)}${_b64(digest)}"


def password_matches(password: str, stored: str) -> bool:
    """Whether ``password`` hashes to ``stored`` (compared in constant time)."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(digest)
        got = hashlib.scrypt(password.encode("utf-8"), salt=base64.b64decode(salt), n=int(n),
                             r=int(r), p=int(p), maxmem=64 * 1024 * 1024, dklen=len(expected))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, expected)


@functools.cache
def _dummy_hash() -> str:
    """Hashed against when the name is unknown, so an unknown name costs what a known one does."""
    return hash_password(secrets.token_urlsafe(16))


def check_new_password(password: str) -> None:
    """Refuse a password too short to resist guessing (one clear line)."""
    if len(password) < MIN_PASSWORD:
        raise InputError(f"a password needs at least {MIN_PASSWORD} characters",
                         field="password", rule="password-length")


def check_name(name: str) -> str:
    """The account name, trimmed; refused unless it is 1–100 of a-z 0-9 . _ - @."""
    clean = name.strip().lower()
    if not clean or len(clean) > 100 or not set(clean) <= NAME_CHARS:
        raise InputError(f"{name!r} is not an account name (letters, digits, . _ - @)",
                         field="NAME", rule="account-name")
    return clean


def add_user(store: Store, name: str, role: str, password: str) -> User:
    """Create an account; a name taken already is refused."""
    clean = check_name(name)
    if role not in ROLES:
        raise UnknownName("role", role, list(ROLES), field="--role")
    check_new_password(password)
    with store.session() as s:
        if s.scalar(select(UserRow.id).where(UserRow.name == clean)) is not None:
            raise ConflictError(f"an account named {clean!r} exists already")
        s.add(UserRow(name=clean, role=role, password_hash=hash_password(password)))
    return User(clean, role)


def list_users(store: Store) -> list[User]:
    """Every active account, by name."""
    with store.session() as s:
        rows = s.scalars(select(UserRow).where(UserRow.active.is_(True)).order_by(UserRow.name))
        return [User(r.name, r.role) for r in rows]


def get_user(store: Store, name: str) -> User:
    """The active account ``name``; :class:`NotFound` otherwise."""
    with store.session() as s:
        row = s.scalar(select(UserRow).where(UserRow.name == name.strip().lower(),
                                             UserRow.active.is_(True)))
        if row is None:
            raise NotFound("user", name)
        return User(row.name, row.role)


def _active_row(s: Any, name: str) -> UserRow:
    row = s.scalar(select(UserRow).where(UserRow.name == name.strip().lower(),
                                         UserRow.active.is_(True)))
    if row is None:
        raise NotFound("user", name)
    return row


def disable_user(store: Store, name: str, *, actor: str) -> User:
    """Disable the active account ``name``: it can no longer sign in, and a session of it is
    signed out at its next request. An admin cannot disable their own account (someone must be
    left who can undo a mistake)."""
    with store.session() as s:
        row = _active_row(s, name)
        if row.name == actor.strip().lower():
            raise ConflictError(f"{row.name} cannot disable their own account")
        row.active = False
        return User(row.name, row.role)


def set_password(store: Store, name: str, password: str) -> User:
    """Give the active account ``name`` a new password (the same rules as a new account)."""
    check_new_password(password)
    with store.session() as s:
        row = _active_row(s, name)
        row.password_hash = hash_password(password)
        row.password_changed_at = utcnow()
        return User(row.name, row.role)


def verify_login(store: Store, name: str, password: str) -> User | None:
    """The account when ``password`` is its password, else None (same cost either way)."""
    with store.session() as s:
        row = s.scalar(select(UserRow).where(UserRow.name == name.strip().lower(),
                                             UserRow.active.is_(True)))
        stored = row.password_hash if row is not None else _dummy_hash()
        user = User(row.name, row.role) if row is not None else None
    ok = password_matches(password, stored)
    return user if ok and user is not None else None


class LoginThrottle:
    """Failed sign-ins per account name and per client address, in this process: after
    ``limit`` failures within ``window`` seconds, further tries wait out the window."""

    def __init__(self, limit: int = 5, window: float = 900.0) -> None:  # ok: seconds
        self.limit, self.window = limit, window
        self._failures: dict[str, list[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> list[float]:
        kept = [t for t in self._failures.get(key, []) if now - t < self.window]
        self._failures[key] = kept
        return kept

    def wait_seconds(self, *keys: str) -> int:
        """Seconds before another try is allowed for any of ``keys`` (0: go ahead)."""
        now = time.monotonic()
        with self._lock:
            waits = [int(self.window - (now - recent[0])) + 1 for key in keys
                     if len(recent := self._recent(key, now)) >= self.limit]
        return max(waits, default=0)

    def failed(self, *keys: str) -> None:
        """Count a failed try against each of ``keys``."""
        now = time.monotonic()
        with self._lock:
            for key in keys:
                self._recent(key, now).append(now)

    def succeeded(self, *keys: str) -> None:
        """Forget the failures of ``keys`` after a good sign-in."""
        with self._lock:
            for key in keys:
                self._failures.pop(key, None)

"""People as user actions: local accounts of the web workspace, signing in, and acting as a
person (their name recorded in claim history and evidence, as ``CLAIMS_ACTOR`` does for the CLI).
"""

from __future__ import annotations

from pathlib import Path

from claims import accounts
from claims.accounts import ROLES, LoginThrottle, User
from claims.core.importers import regular_file
from claims.errors import ConflictError, InputError, NotFound
from claims.workspace import Workspace

__all__ = ["ROLES", "LoginThrottle", "User", "add_user", "list_users", "get_user",
           "sign_in", "acting_as", "seal_evidence", "disable_user", "change_password",
           "read_password_file"]


def read_password_file(path: Path) -> str:
    """The first line of ``path`` (``--password-file``); a folder, a FIFO (reading it would wait
    forever) or an unreadable file is one error naming it."""
    try:
        lines = regular_file(path, field="--password-file",
                             missing_rule="file-readable").read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as err:
        raise InputError(f"cannot read: {getattr(err, 'strerror', None) or err}",
                         file=str(path), field="--password-file", rule="file-readable") from None
    return lines[0] if lines else ""


def add_user(ws: Workspace, name: str, *, role: str, password: str) -> User:
    """Create a local account (``claims user add``); the password is stored as a scrypt hash."""
    return accounts.add_user(ws.store, name, role, password)


def list_users(ws: Workspace) -> list[User]:
    """Every active account, by name."""
    return accounts.list_users(ws.store)


def get_user(ws: Workspace, name: str) -> User:
    """One active account; :class:`NotFound` if there is none."""
    return accounts.get_user(ws.store, name)


def _require_admin(ws: Workspace, what: str) -> None:
    """Refuse unless the workspace's actor is an active admin account."""
    try:
        role = accounts.get_user(ws.store, ws.actor).role
    except NotFound:
        role = None
    if role != "admin":
        raise ConflictError(f"only an admin may {what} (acting as {ws.actor})")


def disable_user(ws: Workspace, name: str) -> User:
    """Disable an account (an admin acting; never their own). Recorded in evidence with the
    admin's name."""
    _require_admin(ws, "disable an account")
    user = accounts.disable_user(ws.store, name, actor=ws.actor)
    ws.record_evidence(kind="account.disabled", claim=None,
                       metadata={"user": user.name, "role": user.role})
    return user


def change_password(ws: Workspace, name: str, password: str) -> User:
    """Set a new password for an account (an admin acting). Recorded in evidence with the
    admin's name (never the password)."""
    _require_admin(ws, "change a password")
    user = accounts.set_password(ws.store, name, password)
    ws.record_evidence(kind="account.password_changed", claim=None, metadata={"user": user.name})
    return user


def sign_in(ws: Workspace, name: str, password: str, *, throttle: LoginThrottle,
            client: str) -> User:
    """The account for this name and password; one clear refusal otherwise. After too many
    failures for the name or the client address, every try is refused until the window passes
    (the password is not even checked)."""
    keys = (f"name:{name.strip().lower()}", f"client:{client}")
    wait = throttle.wait_seconds(*keys)
    if wait:
        raise InputError(f"too many failed sign-ins; try again in {wait} seconds",
                         field="password", rule="login-throttle")
    user = accounts.verify_login(ws.store, name, password)
    if user is None:
        throttle.failed(*keys)
        raise InputError("wrong name or password", field="password", rule="sign-in")
    throttle.succeeded(*keys)
    return user


def acting_as(ws: Workspace, user: User | str) -> Workspace:
    """The workspace as ``user`` acts in it: every action through it records their name as
    the actor in claim history and evidence. Call :func:`seal_evidence` when done."""
    return ws.acting_as(user.name if isinstance(user, User) else user)


def seal_evidence(ws: Workspace) -> bool:
    """Sign a checkpoint over the evidence recorded through ``ws`` (if any); returns whether
    one was signed."""
    return ws.seal()

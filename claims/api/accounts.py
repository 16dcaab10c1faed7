"""People as user actions: local accounts of the web workspace, signing in, and acting as a
person (their name recorded in claim history and evidence, as ``CLAIMS_ACTOR`` does for the CLI).
"""

from __future__ import annotations

from claims import accounts
from claims.accounts import ROLES, LoginThrottle, User
from claims.errors import InputError
from claims.workspace import Workspace

__all__ = ["ROLES", "LoginThrottle", "User", "add_user", "list_users", "get_user",
           "sign_in", "acting_as", "seal_evidence"]


def add_user(ws: Workspace, name: str, *, role: str, password: str) -> User:
    """Create a local account (``claims user add``); the password is stored as a scrypt hash."""
    return accounts.add_user(ws.store, name, role, password)


def list_users(ws: Workspace) -> list[User]:
    """Every active account, by name."""
    return accounts.list_users(ws.store)


def get_user(ws: Workspace, name: str) -> User:
    """One active account; :class:`NotFound` if there is none."""
    return accounts.get_user(ws.store, name)


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

"""Configuration: one settings object read from ``claims.toml``, overridden by the environment.

Each setting has a default and a help line (its ``description``). Environment overrides are
``CLAIMS_<SECTION>_<NAME>`` (e.g. ``CLAIMS_DATABASE_URL``). Secrets are never stored here in
clear: a :class:`SecretRef` names where to find one (an environment variable, a file, or the OS
keyring) and is resolved only when it is used.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

from claims.errors import InputError, WorkspaceError


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SecretRef(Section):
    """Where a secret lives. Exactly one of ``env``, ``file`` or ``keyring``."""

    env: str | None = Field(None, description="name of an environment variable")
    file: str | None = Field(None, description="path of a file holding only the secret")
    keyring: str | None = Field(None, description="'service/username' in the OS keyring")

    def resolve(self, what: str = "secret") -> SecretStr:
        """The secret's value; a clear error (naming the reference, not the value) if absent."""
        if self.env:
            value = os.environ.get(self.env)
            if value is None:
                raise InputError(f"environment variable {self.env} is not set", field=what)
            return SecretStr(value)
        if self.file:
            path = Path(self.file).expanduser()
            try:
                return SecretStr(path.read_text(encoding="utf-8").strip())
            except OSError as err:
                raise InputError(f"cannot read {path}: {err.strerror}", field=what) from err
        if self.keyring:
            try:
                import keyring  # optional: only when a keyring reference is configured
            except ImportError as err:
                raise InputError("the keyring package is not installed", field=what) from err
            service, _, user = self.keyring.partition("/")
            value = keyring.get_password(service, user)
            if value is None:
                raise InputError(f"no keyring entry {self.keyring}", field=what)
            return SecretStr(value)
        raise InputError("no env, file or keyring given", field=what)


class DatabaseSettings(Section):
    url: str = Field("sqlite:///claims.db",
                     description="SQLAlchemy URL; a relative SQLite path is inside the workspace")


class BrowserSettings(Section):
    executable: str = Field("", description="Chromium path; empty: Playwright's, else the system's")
    headless: bool = Field(True, description="run the browser without a window")
    ws_endpoint: str = Field("", description="a Playwright browser server to connect to instead")


class PortalSettings(Section):
    url: str = Field("http://127.0.0.1:8765", description="the portal's base URL")
    username: str = Field("", description="the supplier's portal user name")
    password: SecretRef | None = Field(None, description="where the password is")
    totp_secret: SecretRef | None = Field(None, description="where the TOTP seed is")
    timeout_seconds: float = Field(30.0, description="per-step timeout")  # ok: not money


class EvidenceSettings(Section):
    """Where the evidence archive keeps its blobs and signing key. Workers on several machines
    that share one database must share these too (see docs/deployment.md)."""

    blobs_dir: str = Field("", description="folder of evidence blobs (shared by a fleet); "
                                           "empty: evidence/blobs; relative: in the workspace")
    key_file: str = Field("", description="private key that signs checkpoints (mode 0600; its "
                                          "public key is beside it as .pub); empty: "
                                          "evidence/keys/signing.key")


class LeaseSettings(Section):
    """How long a worker holds a claim, and how long a lost intent is left to settle."""

    seconds: float = Field(600.0, gt=0, description="lease length; renewed every third of it "
                                                    "while the worker lives")  # ok: not money
    settle_seconds: float = Field(60.0, ge=0, description="a taken-over claim whose intent is "
                                  "younger than this and that the portal does not list yet "
                                  "waits in UNKNOWN instead of being filed again")  # ok: seconds


class Settings(Section):
    """Everything configurable, with defaults: an empty claims.toml is a valid one."""

    actor: str = Field("", description="who acts (recorded in events); default: the OS user")
    database: DatabaseSettings = DatabaseSettings()
    browser: BrowserSettings = BrowserSettings()
    evidence: EvidenceSettings = EvidenceSettings()
    lease: LeaseSettings = LeaseSettings()
    portals: dict[str, PortalSettings] = Field(default_factory=dict,
                                               description="one table per portal adapter")
    extra: dict[str, Any] = Field(default_factory=dict,
                                  description="settings of other parts (followup, payments, …)")


_ENV_OVERRIDES = {
    "CLAIMS_DATABASE_URL": ("database", "url"),
    "CLAIMS_BROWSER_EXECUTABLE": ("browser", "executable"),
    "CLAIMS_BROWSER_WS_ENDPOINT": ("browser", "ws_endpoint"),
    "CLAIMS_ACTOR": ("actor",),
    "CLAIMS_EVIDENCE_BLOBS_DIR": ("evidence", "blobs_dir"),
    "CLAIMS_EVIDENCE_KEY_FILE": ("evidence", "key_file"),
    "CLAIMS_LEASE_SECONDS": ("lease", "seconds"),
    "CLAIMS_LEASE_SETTLE_SECONDS": ("lease", "settle_seconds"),
}


def load_settings(path: Path) -> Settings:
    """Read ``path`` (claims.toml), apply environment overrides, validate."""
    try:
        data: dict[str, Any] = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise WorkspaceError(f"{path} does not exist") from None
    except tomllib.TOMLDecodeError as err:
        raise InputError(str(err), file=str(path), rule="toml-syntax") from err
    known = set(Settings.model_fields)
    data["extra"] = {k: data.pop(k) for k in list(data) if k not in known}
    for env, keys in _ENV_OVERRIDES.items():
        if env in os.environ:
            target = data
            for key in keys[:-1]:
                target = target.setdefault(key, {})
            target[keys[-1]] = os.environ[env]
    try:
        return Settings.model_validate(data)
    except ValidationError as err:
        first = err.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        raise InputError(first["msg"], file=str(path), field=field, rule="settings") from err

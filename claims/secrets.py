"""Secret references: settings name *where* a secret is (an environment variable, a file, or the
OS keyring), never the secret; it is read only when :meth:`SecretRef.resolve` is called."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import Field, SecretStr

from claims.core.config import Section
from claims.errors import InputError


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

"""Canonical JSON (sorted keys, no whitespace, UTF-8) and the guard that keeps secrets out.

Leaves and checkpoints are hashed and signed as canonical JSON, so the same content always has the
same bytes. Only JSON's exact types are accepted: floats are refused (their text is not stable
across languages, and money is never a float); ``Decimal`` is recorded as its string.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any

from evidence.errors import MetadataError, SecretInMetadata

# Normalised (lower case, no separators) substrings that mark a key as a secret.
SECRET_WORDS: tuple[str, ...] = (
    "password", "passwd", "passphrase", "secret", "token", "cookie", "totp", "otpseed",
    "apikey", "privatekey", "authorization", "credential", "sessionid",
)
_SEPARATORS = re.compile(r"[\s_\-.]+")


def canonical_json(value: Any) -> bytes:
    """Return the canonical JSON bytes of ``value`` (already checked by :func:`clean_metadata`)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode("utf-8")


def secret_word(key: str) -> str | None:
    """Return the secret word ``key`` contains (``"session_cookie"`` → ``"cookie"``), else None."""
    norm = _SEPARATORS.sub("", key.lower())
    for word in SECRET_WORDS:
        if word in norm:
            return word
    return None


def clean_metadata(value: Any, path: str = "") -> Any:
    """Return ``value`` as plain JSON data, refusing secrets, floats and non-JSON types.

    Raises :class:`~evidence.errors.SecretInMetadata` for a key naming a secret and
    :class:`~evidence.errors.MetadataError` for anything else that cannot be recorded; ``path``
    in the error is a JSON pointer to the offending place.
    """
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise MetadataError(path, f"decimal {value} is not finite")
        return str(value)
    if isinstance(value, float):
        raise MetadataError(path, "floats are not recorded (use str or Decimal)")
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise MetadataError(path, f"key {key!r} is not a string")
            where = f"{path}/{key}"
            word = secret_word(key)
            if word is not None:
                raise SecretInMetadata(where, word)
            out[key] = clean_metadata(item, where)
        return out
    if isinstance(value, (list, tuple)):
        return [clean_metadata(item, f"{path}/{i}") for i, item in enumerate(value)]
    raise MetadataError(path, f"{type(value).__name__} is not JSON data")

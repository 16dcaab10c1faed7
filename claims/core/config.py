"""Building blocks of the settings sections: the :class:`Section` base, and validator errors
that name a field or an unknown name. Pure: no I/O.

Each slice declares its own ``claims.toml`` section with these (e.g.
:mod:`claims.collections.settings`); :mod:`claims.settings` composes them into one ``Settings``.
"""

from __future__ import annotations

import codecs
from collections.abc import Iterable

from pydantic import BaseModel, ConfigDict
from pydantic_core import PydanticCustomError

#: error type of :func:`field_error`: the message belongs to ``ctx["field"]`` of the model
FIELD_ERROR = "settings_field"
#: error type of :func:`unknown_name_error`: mapped to :class:`claims.errors.UnknownName`
UNKNOWN_NAME_ERROR = "unknown_name"


class Section(BaseModel):
    """A table of claims.toml: unknown keys are refused, values are read-only once loaded."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def text_encoding(name: str) -> str:
    """``name`` if Python can decode text with it (``utf-8-sig``, ``cp1252``, ``latin-1``…),
    checked when a mapping is saved or loaded, not when its first file is read; else a
    ``ValueError`` saying so (``no-such-codec``, or ``base64``: a codec, but not of text)."""
    try:
        info = codecs.lookup(name)
    except (LookupError, TypeError, ValueError):
        raise ValueError(f"unknown encoding {name!r} (a Python codec name such as utf-8-sig, "
                         "cp1252 or latin-1)") from None
    if not getattr(info, "_is_text_encoding", True):
        raise ValueError(f"{name!r} is not a text encoding") from None
    return name


def field_error(field: str, message: str) -> PydanticCustomError:
    """A validation error, raised by a model validator, that belongs to the model's ``field``."""
    return PydanticCustomError(FIELD_ERROR, "{message}", {"field": field, "message": message})


def unknown_name_error(kind: str, name: str, known: Iterable[str]) -> PydanticCustomError:
    """A validation error for a name outside a vocabulary (reported with "did you mean")."""
    return PydanticCustomError(UNKNOWN_NAME_ERROR, "unknown {kind} {name!r}",
                               {"kind": kind, "name": name, "known": sorted(known)})

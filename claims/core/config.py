"""Building blocks of the settings sections: the :class:`Section` base, and validator errors
that name a field or an unknown name. Pure: no I/O.

Each slice declares its own ``claims.toml`` section with these (e.g.
:mod:`claims.collections.settings`); :mod:`claims.settings` composes them into one ``Settings``.
"""

from __future__ import annotations

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


def field_error(field: str, message: str) -> PydanticCustomError:
    """A validation error, raised by a model validator, that belongs to the model's ``field``."""
    return PydanticCustomError(FIELD_ERROR, "{message}", {"field": field, "message": message})


def unknown_name_error(kind: str, name: str, known: Iterable[str]) -> PydanticCustomError:
    """A validation error for a name outside a vocabulary (reported with "did you mean")."""
    return PydanticCustomError(UNKNOWN_NAME_ERROR, "unknown {kind} {name!r}",
                               {"kind": kind, "name": name, "known": sorted(known)})

"""JSON Schema documents (2020-12), shipped as package data.

- ``contract.schema.json``: the contract file a specialist writes (YAML or JSON).
- ``claim-types/<name>.schema.json``: the ``claim.json`` of a claim of that type, with an
  ``x-claimwright`` annotation naming its required documents and their rules (media type by
  content, maximum size, facts the text must mention, expiry, maximum age).
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any


@cache
def load(name: str) -> dict[str, Any]:
    """The schema document ``name`` (e.g. ``"contract"`` or ``"claim-types/goods-delivery"``)."""
    path = resources.files(__name__).joinpath(f"{name}.schema.json")
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise KeyError(name) from None
    data: dict[str, Any] = json.loads(text)
    return data


def claim_type_names() -> list[str]:
    """The claim types that ship with Claimwright."""
    folder = resources.files(__name__).joinpath("claim-types")
    return sorted(p.name.removesuffix(".schema.json") for p in folder.iterdir()
                  if p.name.endswith(".schema.json"))

"""Finding portal adapters by name through the ``claims.portals`` entry-point group.

The sandbox adapter registers there exactly like a third-party package would::

    [project.entry-points."claims.portals"]
    sandbox = "portals.sandbox.adapter:SandboxAdapter"
"""

from __future__ import annotations

import difflib
from importlib.metadata import EntryPoint, entry_points

from portals.base import PortalAdapter
from portals.errors import PortalError

GROUP = "claims.portals"

#: Adapter classes already found, by name, for this process: reading the entry points
#: (every installed distribution's metadata) costs milliseconds, and a run asks per claim.
#: Only successes are kept, so an adapter installed later is still found by name.
_LOADED: dict[str, type[PortalAdapter]] = {}


class UnknownAdapter(PortalError, LookupError):
    """No adapter is registered under that name.

    Attributes:
        requested: the name asked for; available: the registered names; suggestion: closest one.
    """

    def __init__(self, requested: str, available: list[str]):
        self.requested = requested
        self.available = available
        close = difflib.get_close_matches(requested, available, n=1)
        self.suggestion = close[0] if close else None
        hint = f"; did you mean {self.suggestion!r}?" if self.suggestion else ""
        names = ", ".join(available) or "none"
        super().__init__(f"no portal adapter named {requested!r} (available: {names}){hint}")


def _entry_points() -> dict[str, EntryPoint]:
    return {ep.name: ep for ep in entry_points(group=GROUP)}


def available_adapters() -> list[str]:
    """Names of every registered adapter, sorted."""
    return sorted(_entry_points())


def load_adapter(name: str) -> type[PortalAdapter]:
    """The adapter class registered as ``name``; UnknownAdapter (with a suggestion) otherwise.

    Found once per process and then kept (``_LOADED``); failures are not kept.
    """
    if name in _LOADED:
        return _LOADED[name]
    eps = _entry_points()
    if name not in eps:
        raise UnknownAdapter(name, sorted(eps))
    cls = eps[name].load()
    if not (isinstance(cls, type) and issubclass(cls, PortalAdapter)):
        raise PortalError(f"entry point {name!r} ({eps[name].value}) is not a PortalAdapter")
    _LOADED[name] = cls
    return cls

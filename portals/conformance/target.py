"""What a third party writes to run the conformance kit: their adapter, and their fake portal
driven from outside (its back office), as a :class:`PortalUnderTest`.

The fake portal must be able to do what real portals do to adapters (:data:`FAULTS`), must
refuse a replayed one-time code, and must *not* refuse a duplicate invoice unless asked
(``duplicate_check``): the kit tests the adapter's never-twice, not the portal's.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from importlib.metadata import entry_points
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, ClassVar

from portals.base import PortalAdapter, SubmissionPackage
from portals.registry import UnknownAdapter

GROUP = "claims.conformance"

#: the faults a fake portal switches on for the kit (one at a time; ``""`` clears them)
FAULTS = {
    "lost_response": "the final submit is stored, then its answer is lost (once)",
    "http5xx_before_final": "one HTTP 5xx at a step before the final click",
    "expire_mid_wizard": "the session ends once in the middle of the claim form",
    "maintenance": "every page is the maintenance page",
    "duplicate_check": "the portal itself refuses a second claim for an invoice",
}


class PortalUnderTest(ABC):
    """A fake portal and the adapter for it, as the kit drives them.

    Register the class under the entry-point group ``claims.conformance`` with the adapter's
    name (``tenders = "mypkg.fake:TendersUnderTest"``) for ``claims portal conformance
    tenders``; or hand an instance to :func:`portals.conformance.run_scenario` in pytest.
    """

    #: the adapter's name (as registered under ``claims.portals``)
    name: str = ""
    #: scenarios that mean nothing for this portal -> why (reported "not applicable" with the
    #: reason, never counted as passed); e.g. ``{"totp_workers": "no one-time codes"}``
    not_applicable: ClassVar[dict[str, str]] = {}

    @classmethod
    @abstractmethod
    def started(cls, workdir: Path) -> AbstractContextManager[PortalUnderTest]:
        """Start the fake portal (in ``workdir``) with a fresh account; stop it on exit."""

    @abstractmethod
    def connection(self) -> dict[str, Any]:
        """What a worker process needs to reach the running portal (JSON)."""

    @classmethod
    @abstractmethod
    def reconnect(cls, connection: dict[str, Any]) -> PortalUnderTest:
        """The portal under test from :meth:`connection`, in another process."""

    @abstractmethod
    def adapter(self, state_file: Path, evidence_dir: Path) -> PortalAdapter:
        """A new adapter for the account, keeping its session in ``state_file``."""

    @abstractmethod
    def wrong_password_adapter(self, state_file: Path, evidence_dir: Path) -> PortalAdapter:
        """An adapter for the account with a wrong password."""

    @abstractmethod
    def package(self, invoice: str, folder: Path) -> SubmissionPackage:
        """A package the portal accepts, for a new ``invoice`` (files written in ``folder``)."""

    @abstractmethod
    def filed(self, invoice: str) -> list[str]:
        """The references the portal holds for ``invoice`` (from its own records)."""

    @abstractmethod
    def fault(self, name: str) -> None:
        """Switch one of :data:`FAULTS` on; ``""`` switches every fault off."""

    @abstractmethod
    def failed_sign_ins(self) -> int:
        """How many refused sign-ins the portal counts against the account now."""



def load_portal_under_test(name: str) -> type[PortalUnderTest]:
    """The :class:`PortalUnderTest` registered as ``name`` under ``claims.conformance``;
    UnknownAdapter (naming the registered ones) otherwise."""
    eps = {ep.name: ep for ep in entry_points(group=GROUP)}
    if name not in eps:
        raise UnknownAdapter(name, sorted(eps))
    cls = eps[name].load()
    if not (isinstance(cls, type) and issubclass(cls, PortalUnderTest)):
        raise UnknownAdapter(name, [n for n in sorted(eps) if n != name])
    return cls
